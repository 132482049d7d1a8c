"""Activity-log queries on a 1,000,000-entry log: p95 per filter, alone and combined (+ totals)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._activity_data import fill_rows  # noqa: E402
from benchmarks._stats import percentile  # noqa: E402
from ledgrab.storage.activity_log import (  # noqa: E402
    ActivityLogFilters,
    ActivityLogRepository,
    Category,
    Severity,
    live_range,
)
from ledgrab.storage.activity_query import page_rows, total_for  # noqa: E402
from ledgrab.storage.database import Database  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def build(rows: int) -> Path:
    """A log of `rows` entries over 60 days, cached in benchmarks/results/ between runs."""
    path = RESULTS / f"activity-{rows}.db"
    if path.exists():
        cached = Database(path)
        cached.open()  # brings a log cached by an older LedGrab up to the current schema
        cached.close()
        return path
    RESULTS.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for leftover in RESULTS.glob(partial.name + "*"):
        leftover.unlink()
    db = Database(partial)
    db.open()

    def insert(conn: sqlite3.Connection, chunk: list) -> None:
        ActivityLogRepository.insert_rows(conn, chunk)

    chunk: list = []
    for row in fill_rows(rows):
        chunk.append(row)
        if len(chunk) == 50_000:
            db.write_blocking(insert, chunk)
            chunk = []
    if chunk:
        db.write_blocking(insert, chunk)
    db.close()
    partial.rename(path)
    return path


def cases(now: datetime) -> list[tuple[str, ActivityLogFilters]]:
    day = timedelta(days=1)
    f = ActivityLogFilters
    return [
        ("no filter", f()),
        ("category=auth", f(categories=(Category.AUTH,))),
        ("category=device,system", f(categories=(Category.DEVICE, Category.SYSTEM))),
        ("severity=critical", f(severities=(Severity.CRITICAL,))),
        ("severity=error,critical", f(severities=(Severity.ERROR, Severity.CRITICAL))),
        ("actor=home-assistant", f(actor="home-assistant")),
        ("entity_type=device", f(entity_type="device")),
        ("entity_id=dev3", f(entity_id="dev3")),
        ("entity_id=(no match)", f(entity_id="gone")),
        ("since=now-1d", f(since=now - day)),
        ("until=now-30d", f(until=now - 30 * day)),
        ("since..until (1 day)", f(since=now - 31 * day, until=now - 30 * day)),
        ("message_like=Porch", f(message_like="Porch")),
        ("message_like=rare", f(message_like="no such text")),
        ("message_like=Küche", f(message_like="Küche")),
        ("auth+warning", f(categories=(Category.AUTH,), severities=(Severity.WARNING,))),
        ("entity_id+since 7d", f(entity_id="dev3", since=now - 7 * day)),
        (
            "actor+category+since",
            f(actor="admin", categories=(Category.ENTITY,), since=now - 7 * day),
        ),
        (
            "critical+entity_id+like",
            f(severities=(Severity.CRITICAL,), entity_id="dev1", message_like="started"),
        ),
        (
            "all 8",
            f(
                categories=(Category.DEVICE,),
                severities=(Severity.WARNING,),
                actor="admin",
                entity_type="device",
                entity_id="dev2",
                since=now - 20 * day,
                until=now - 1 * day,
                message_like="disconnected",
            ),
        ),
    ]


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values: list[float]) -> float:
    return percentile(values, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 5 repeats")
    args = parser.parse_args()
    rows, repeat = (100_000, 5) if args.quick else (args.rows, args.repeat)
    started = time.perf_counter()
    path = build(rows)
    print(f"log: {rows:,} entries, {path.stat().st_size / 2**20:.0f} MiB "
          f"(ready in {time.perf_counter() - started:.0f} s)")  # fmt: skip
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.execute("PRAGMA temp_store = MEMORY")
    now = datetime.now(UTC)
    print(f"{'filter':<26} {'matches':>10} {'page p95 ms':>12} {'total p95 ms':>13} "
          f"{'next page ms':>13}")  # fmt: skip
    for name, filters in cases(now):
        total, exact = total_for(conn, filters)

        def page(f=filters, before=None):
            return page_rows(conn, f, live_range(conn, f), 50, before)

        page_ms = timed(page, repeat)
        count_ms = timed(lambda f=filters: total_for(conn, f), max(3, repeat // 4))
        _, resume = page()
        deep = "-" if resume is None else f"{p95(timed(lambda b=resume: page(before=b), 3)):.1f}"
        matches = f"{total:,}" + ("" if exact else "+")
        print(f"{name:<26} {matches:>10} {p95(page_ms):>12.2f} {p95(count_ms):>13.2f} "
              f"{deep:>13}")  # fmt: skip
    conn.close()


if __name__ == "__main__":
    main()
