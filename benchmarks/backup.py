"""Backup, restore checks and startup check against database size; writes during a backup.

For each size the real Database is filled with activity-log rows (the bulk of any LedGrab
database), then timed: the one-step online backup, the restore upload's checks
(integrity_check, schema), admitting an upload (checked and rebuilt row by row into a fresh
file), the startup quick_check and schema comparison, and the file swap. A writer thread keeps
committing small config writes (synchronous=FULL, so one fsync each) for a second of back-to-back
backups, to show what a backup costs the writer: commits per second and the slowest commit,
against the same writer alone for a second. Machine noise matters: run it on an idle board.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledgrab.core.backup.admit import admit_backup, foreign_objects  # noqa: E402
from ledgrab.core.backup.check import check_backup_file  # noqa: E402
from ledgrab.core.backup.db_files import install_file  # noqa: E402
from ledgrab.core.backup.recovery import find_corruption  # noqa: E402
from ledgrab.storage.database import Database  # noqa: E402

ROW_SQL = (
    "INSERT INTO activity_log (id, ts, category, action, severity, actor, message, "
    "entity_type, entity_id, entity_name, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)


def _fill(conn: sqlite3.Connection, start: int, count: int) -> None:
    rows = []
    for i in range(start, start + count):
        ts = 1_700_000_000_000_000 + i * 1000
        rows.append(
            (
                f"{ts:014x}{i & 0xFFFFFF:06x}",
                ts,
                "entity",
                "target.updated",
                "info",
                "admin",
                f"target 'Living room {i % 50}' updated: brightness 0.{i % 10}, fps 30",
                "target",
                f"t_{i % 50:08x}",
                f"Living room {i % 50}",
                '{"changed": ["brightness"], "before": {"brightness": 0.5}}',
            )
        )
    conn.executemany(ROW_SQL, rows)


def build(path: Path, entries: int) -> Database:
    db = Database(path)
    db.open()
    for start in range(0, entries, 20_000):
        db.write_blocking(_fill, start, min(20_000, entries - start))
    return db


def _commit_loop(db: Database, stop: threading.Event, latencies: list[float]) -> None:
    i = 0
    while not stop.is_set():
        t0 = time.perf_counter()
        db.write_blocking(Database.put_setting, "bench.counter", i)
        latencies.append(time.perf_counter() - t0)
        i += 1


def writer_beside(db: Database, action, seconds: float | None = None) -> tuple[float, float]:
    """(commits per second, slowest commit in ms) while `action` runs (or for `seconds`)."""
    stop, latencies = threading.Event(), []
    thread = threading.Thread(target=_commit_loop, args=(db, stop, latencies))
    t0 = time.perf_counter()
    thread.start()
    if action is None:
        time.sleep(seconds or 1.0)
    else:
        action()
    stop.set()
    thread.join()
    elapsed = time.perf_counter() - t0
    return len(latencies) / elapsed, max(latencies, default=0.0) * 1000


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(entries: int, tmp: Path) -> dict:
    live = tmp / f"live-{entries}.db"
    db = build(live, entries)
    try:
        copy = tmp / f"copy-{entries}.db"
        backup_s = timed(lambda: db.backup_to_blocking(copy))
        size_mib = copy.stat().st_size / 2**20
        check_s = timed(lambda: check_backup_file(copy))
        quick_s = timed(lambda: find_corruption(copy))
        schema_s = timed(lambda: foreign_objects(copy))
        staged = tmp / f"staged-{entries}.db"
        admit_s = timed(lambda: admit_backup(copy, staged))
        alone_cps, alone_max = writer_beside(db, None, seconds=1.0)

        def backups_for_a_second() -> None:  # repeated, so short copies are not all noise
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 1.0:
                db.backup_to_blocking(tmp / "b2.db")

        during_cps, during_max = writer_beside(db, backups_for_a_second)

        def replace(path: Path):
            return install_file(staged, path, "bench")[1]

        swap_s = timed(lambda: db.submit_swap(replace).result())
    finally:
        db.close()
    return {
        "entries": entries,
        "MiB": size_mib,
        "backup s": backup_s,
        "upload check s": check_s,
        "upload admit s": admit_s,
        "startup quick_check s": quick_s,
        "startup schema s": schema_s,
        "swap s": swap_s,
        "commits/s alone": alone_cps,
        "commits/s in backup": during_cps,
        "max commit ms alone": alone_max,
        "max commit ms in backup": during_max,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller databases only")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 500_000]
    results = []
    with tempfile.TemporaryDirectory(prefix="ledgrab-bench-") as tmp:
        for entries in sizes:
            results.append(measure(entries, Path(tmp)))
            for leftover in Path(tmp).iterdir():
                leftover.unlink()
    columns = list(results[0])
    widths = [max(len(c), 8) for c in columns]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for row in results:
        cells = [
            f"{v:.3f}" if isinstance(v, float) and v < 100 else f"{v:.0f}" for v in row.values()
        ]
        print("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))


if __name__ == "__main__":
    main()
