"""How long `ledgrab verify` takes: the chain recomputed over logs of 10,000 to 1,000,000
entries (a database copy, and an NDJSON export of it), as a table.

The logs are benchmarks/query.py's (cached in benchmarks/results/); a throw-away key signs their
anchor and a checkpoint at the head, so every check the verifier makes is made.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._stats import percentile as pct  # noqa: E402
from benchmarks.query import build  # noqa: E402
from ledgrab.core.activity_log.chain_setup import register_device_key  # noqa: E402
from ledgrab.core.activity_log.offline_export import export_to  # noqa: E402
from ledgrab.core.activity_log.signing import DeviceKey  # noqa: E402
from ledgrab.core.activity_log.verify import verify_database  # noqa: E402
from ledgrab.core.activity_log.verify_export import verify_export  # noqa: E402
from ledgrab.storage import activity_chain as chain  # noqa: E402
from ledgrab.storage.activity_chain import note_time  # noqa: E402
from ledgrab.storage.activity_log import ActivityLogFilters  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)


def signed_copy(source: Path, work: Path) -> tuple[Path, DeviceKey]:
    path = work / "ledgrab.db"
    shutil.copy(source, path)
    key = DeviceKey.load_or_create(work)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    register_device_key(conn, key)
    seq, value = chain.head(conn)
    ts_us = int(time.time() * 1_000_000)
    body = chain.checkpoint_body(key.origin, seq, value, note_time(ts_us), None)
    chain.store_checkpoint(conn, seq, value, ts_us, key.sign_note(body))
    conn.execute("COMMIT")
    conn.close()
    return path, key


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


async def loop_lag_idle(seconds: float) -> list[float]:
    """The same timer with no check running: the machine's own noise, for comparison."""
    lags: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - before - 0.001) * 1000)
    return lags


async def loop_lag_while_verifying(path: Path) -> tuple[list[float], float]:
    """Lateness (ms) of a 1 ms timer on the event loop while GET /activity/verify's job checks
    the log in its worker thread (its real pacing: 250 rows, then as long asleep)."""
    from ledgrab.core.activity_log.verify_job import VerifyJob

    class _Db:
        pass

    class _Recorder:
        async def commit_now(self) -> None:
            return None

        def record(self, *args, **kwargs) -> None:
            return None

    db = _Db()
    db.path = path
    job = VerifyJob(db, None, _Recorder())
    job.start()
    start = time.perf_counter()
    lags: list[float] = []
    while job.status().state == "running":
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - before - 0.001) * 1000)
    assert job.result is not None and job.result.ok, job.result
    return lags, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="up to 100,000 entries")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = SIZES[:2] if args.quick else SIZES
    lag_rows: list[tuple[str, float, list[float]]] = []
    print(f"{'entries':>9} {'what':<22} {'seconds':>8} {'entries/s':>10} {'result'}")
    for size in sizes:
        source = build(size)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            path, key = signed_copy(source, work)
            seconds, result = timed(lambda p=path: verify_database(p), args.runs)
            assert result.ok, result.summary()
            print(f"{size:>9,} {'database (function)':<22} {seconds:>8.2f} "
                  f"{size / seconds:>10,.0f} {result.summary()[:60]}")  # fmt: skip
            cli = [sys.executable, "-m", "ledgrab", "verify", "--data-dir", str(work)]
            seconds, done = timed(lambda c=cli: subprocess.run(c, capture_output=True), 1)
            assert done.returncode == 0, done.stdout
            print(f"{size:>9,} {'ledgrab verify (CLI)':<22} {seconds:>8.2f} "
                  f"{size / seconds:>10,.0f} exit {done.returncode}")  # fmt: skip
            export = work / "export.ndjson"
            with export.open("wb") as out:
                export_to(path, ActivityLogFilters(), "ndjson", out)
            seconds, result = timed(lambda e=export, k=key: verify_export(e, keys=[k.public]), 1)
            assert result.ok, result.summary()
            print(f"{size:>9,} {'NDJSON export':<22} {seconds:>8.2f} "
                  f"{size / seconds:>10,.0f} {result.summary()[:60]}")  # fmt: skip
            if size == 100_000:
                lags, took = asyncio.run(loop_lag_while_verifying(path))
                lag_rows.append((f"{size:,} checked", took, lags))
                lag_rows.append(("no check", took, asyncio.run(loop_lag_idle(took))))
    print()
    print("event loop while GET /activity/verify runs (1 ms timer; a 60 fps frame is 16.7 ms)")
    print(f"{'while':>16} {'seconds':>8} {'samples':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for what, took, lags in lag_rows:
        print(f"{what:>16} {took:>8.2f} {len(lags):>8} {pct(lags, 0.5):>8.3f} "
              f"{pct(lags, 0.99):>8.3f} {max(lags):>8.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
