"""record() on the event loop (p50/p99) and the loop's lag while the writer commits big batches."""

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


def _checkpointer(db: Database) -> Checkpointer:
    return Checkpointer(DeviceKey.load_or_create(db.path.parent))


async def record_cost(db: Database, subscribers: int, n: int) -> tuple[list[float], list[float]]:
    """Microseconds per record() call, made on the loop as a request handler would: wall time,
    and the loop thread's CPU time (which a busy machine's other processes do not inflate)."""
    bus = EventBus(backlog=n + 10)
    bus.bind(asyncio.get_running_loop())
    subs = [bus.subscribe() for _ in range(subscribers)]

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
    for i, kwargs in enumerate(calls):
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        recorder.record(**kwargs)
        cpu.append((time.thread_time_ns() - start_cpu) / 1000)
        timings.append((time.perf_counter_ns() - start) / 1000)
        if i % 100 == 99:
            await asyncio.sleep(0)  # let the loop breathe, as between requests
    await recorder.flush()
    db.remove_batch_source(recorder)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for sub in subs:
        sub.close()
    bus.unbind()
    return timings, cpu


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


async def main(quick: bool) -> None:
    n = 20_000 if quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.db")
        db.open()
        try:
            rows = []
            for subscribers in (0, 1):
                t, cpu = await record_cost(db, subscribers, n)
                rows.append((f"record(), {subscribers} ws subscriber(s), wall", len(t), t))
                rows.append((f"record(), {subscribers} ws subscriber(s), CPU", len(cpu), cpu))
            lag_rows = []
            for batch in (500, 5000, 10_000):
                lags, commits = await loop_lag(db, batch, 10 if quick else 30)
                lag_rows.append((batch, commits, lags))
        finally:
            db.close()
    load = os.getloadavg()[0]
    print(f"record() on the event loop (target p99 <= 20 us); load average {load:.1f} "
          f"on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'case':<40} {'calls':>8} {'p50 us':>8} {'p99 us':>8} {'max us':>9}")
    for name, count, t in rows:
        print(f"{name:<40} {count:>8} {pct(t, 0.5):>8.2f} {pct(t, 0.99):>8.2f} {max(t):>9.1f}")
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
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
