"""record() on the event loop (p50/p99) and the loop's lag while the writer commits big batches.

Each record() case runs in rounds, every round on a fresh database, and the order of the cases
is reversed every other round: this machine's speed drifts by tens of percent within a minute
(p50 7-14 us for the same code), and a case run once after another met a different machine and
a fuller database. The percentiles pool every round's calls; the p99 range beside them is the
spread of the single rounds' p99. A running server always has one bus subscriber of its own
(the activity log's, which does not want activity entries): that row, not "no bus subscriber",
is a server without websocket clients. Compare two trees only within one time window, runs
alternating (docs/engine.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._activity_data import entry_kwargs  # noqa: E402
from benchmarks._stats import percentile as pct  # noqa: E402
from ledgrab.core.activity_log.checkpoints import Checkpointer  # noqa: E402
from ledgrab.core.activity_log.recorder import ActivityRecorder  # noqa: E402
from ledgrab.core.activity_log.settings import ActivityLogSettings  # noqa: E402
from ledgrab.core.activity_log.signing import DeviceKey  # noqa: E402
from ledgrab.core.event_bus import EventBus  # noqa: E402
from ledgrab.storage.database import Database  # noqa: E402
from ledgrab.utils.system_clock import SystemClock, boot_id  # noqa: E402

# The server's own bus subscriber (the activity log's BusActivitySource) wants these types and
# not `activity_logged`; a websocket feed wants every type. Spelled out here, not imported, so
# the same file measures older trees too.
SERVER_OWN_TYPES = ("device_discovered", "device_lost", "capture_started", "capture_stopped",
                    "device_state")  # fmt: skip
CASES = {
    "no bus subscriber": [],
    "the server's own subscriber only": [SERVER_OWN_TYPES],
    "+ 1 ws subscriber": [SERVER_OWN_TYPES, None],
}


def _checkpointer(db: Database) -> Checkpointer:
    return Checkpointer(DeviceKey.load_or_create(db.path.parent))


async def record_cost(
    db: Database, subscriptions: list, n: int
) -> tuple[list[float], list[float], float]:
    """Microseconds per record() call, made on the loop as a request handler would: wall time,
    and the loop thread's CPU time (which a busy machine's other processes do not inflate);
    and the loop thread's CPU time per call for the whole run, its readers' turns included."""
    bus = EventBus(backlog=n + 10)
    bus.bind(asyncio.get_running_loop())
    subs = [bus.subscribe(types) for types in subscriptions]

    async def read_on(sub) -> None:  # as the websocket feed does; an unread backlog only grows
        while True:
            await sub.get()

    readers = [asyncio.create_task(read_on(sub)) for sub in subs]
    # As shipped, and the worst case for the chain: every commit also signs a checkpoint.
    settings = ActivityLogSettings(commit_interval_s=5, max_batch=500, checkpoint_interval_s=0)
    # As shipped, every entry also carries the clock stamp (sync flag, boot, time since boot).
    recorder = ActivityRecorder(db, bus, settings, max_pending=n + 10,
                                checkpointer=_checkpointer(db),
                                system_clock=SystemClock(boot_id()))  # fmt: skip
    db.add_batch_source(recorder)
    rng = random.Random(1)
    calls = [entry_kwargs(rng) for _ in range(n)]
    timings, cpu = [], []
    run_start = time.thread_time_ns()
    for i, kwargs in enumerate(calls):
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        recorder.record(**kwargs)
        cpu.append((time.thread_time_ns() - start_cpu) / 1000)
        timings.append((time.perf_counter_ns() - start) / 1000)
        if i % 100 == 99:
            await asyncio.sleep(0)  # let the loop breathe, as between requests
    await asyncio.sleep(0)  # the readers' last turn
    loop_cpu = (time.thread_time_ns() - run_start) / 1000 / n
    await recorder.flush()
    db.remove_batch_source(recorder)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for sub in subs:
        sub.close()
    bus.unbind()
    return timings, cpu, loop_cpu


async def record_rounds(tmp: Path, n: int, rounds: int) -> dict[str, tuple[list, list, list]]:
    """Every case `rounds` times, n/rounds calls each, a fresh database each time, the order
    of the cases reversed every other round."""
    results: dict[str, tuple[list, list, list]] = {name: ([], [], []) for name in CASES}
    names = list(CASES)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            folder = tmp / f"round{r}-{names.index(name)}"
            folder.mkdir()
            db = Database(folder / "bench.db")
            db.open()
            try:
                t, cpu, loop_cpu = await record_cost(db, CASES[name], n // rounds)
            finally:
                db.close()
            results[name][0].append(t)
            results[name][1].append(cpu)
            results[name][2].append(loop_cpu)
    return results


async def loop_lag(db: Database, batch: int, rounds: int) -> tuple[list[float], int]:
    """Lateness (ms) of a 1 ms timer on the loop while the writer commits `batch` rows at once."""
    settings = ActivityLogSettings(commit_interval_s=300, max_batch=batch, checkpoint_interval_s=0)
    recorder = ActivityRecorder(
        db, None, settings, max_pending=batch, checkpointer=_checkpointer(db)
    )
    db.add_batch_source(recorder)
    rng = random.Random(2)
    calls = [entry_kwargs(rng) for _ in range(batch)]
    lags: list[float] = []
    for _ in range(rounds):
        done = recorder.commits
        for kwargs in calls:  # the batch fills; the writer starts its commit at once
            recorder.record(**kwargs)
        while recorder.commits == done:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - before - 0.001) * 1000)
    db.remove_batch_source(recorder)
    return lags, recorder.commits


async def main(quick: bool, rounds: int, lag: bool) -> None:
    n = 20_000 if quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        results = await record_rounds(Path(tmp), n, rounds)
        db = Database(Path(tmp) / "lag.db")
        db.open()
        try:
            lag_rows = []
            for batch in (500, 5000, 10_000) if lag else ():
                lags, commits = await loop_lag(db, batch, 10 if quick else 30)
                lag_rows.append((batch, commits, lags))
        finally:
            db.close()
    load = os.getloadavg()[0]
    print(
        f"record() on the event loop (target p99 <= 20 us); load average {load:.1f} on "
        f"{os.cpu_count()} CPUs; {rounds} rounds, fresh databases, order alternating"
    )
    print(f"{'case':<44} {'calls':>7} {'p50 us':>7} {'p99 us':>7} {'rounds p99':>12} "
          f"{'max us':>8} {'loop us/call':>12}")  # fmt: skip
    for name, (walls, cpus, loop_cpus) in results.items():
        loop_cpu = statistics.median(loop_cpus)
        for kind, per_round in (("wall", walls), ("CPU", cpus)):
            pooled = [v for t in per_round for v in t]
            p99s = [pct(t, 0.99) for t in per_round]
            spread = f"{min(p99s):.1f}-{max(p99s):.1f}"
            extra = f" {loop_cpu:>12.2f}" if kind == "CPU" else ""
            print(f"{name + ', ' + kind:<44} {len(pooled):>7} {pct(pooled, 0.5):>7.2f} "
                  f"{pct(pooled, 0.99):>7.2f} {spread:>12} {max(pooled):>8.1f}{extra}")  # fmt: skip
    print("(loop us/call: the loop thread's CPU time for a whole round, the subscribers' reading")
    print(" included, per record() call; median of the rounds)")
    if not lag:
        return
    print()
    print("event-loop lag while the writer commits one batch (1 ms timer; target p99 <= 2 ms)")
    print(f"{'rows per commit':>15} {'commits':>8} {'samples':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'mean ms':>8}")  # fmt: skip
    for batch, commits, lags in lag_rows:
        if not lags:  # every commit ended before the first timer tick
            print(f"{batch:>15} {commits:>8} {0:>8}")
            continue
        mean = statistics.mean(lags)
        print(f"{batch:>15} {commits:>8} {len(lags):>8} {pct(lags, 0.5):>8.3f} "
              f"{pct(lags, 0.99):>8.3f} {max(lags):>8.3f} {mean:>8.3f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 calls per case, not 100,000")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of every record() case")
    parser.add_argument("--only-record", action="store_true", help="skip the loop-lag table")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.rounds, not args.only_record))
