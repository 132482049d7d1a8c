"""How long the server's heavy readers hold the GIL: a thread that wants to wake every 2 ms (as
a frame loop does) measures how late it wakes while one operation runs again and again in
another thread, at several `sys.setswitchinterval` settings; plus each operation's own duration
(what it costs the event loop when it runs there instead of in a thread).

Usage: python benchmarks/gil_holds.py [--seconds 2] [--rows 100000] [--switch 0.005,0.001]
"""

from __future__ import annotations

import argparse
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._stats import percentile  # noqa: E402
from benchmarks.query import build, timed  # noqa: E402
from ledgrab.core.activity_log.export import CHUNK_ROWS, encode_chunk  # noqa: E402
from ledgrab.storage.activity_log import ActivityLogFilters, ActivityLogRepository  # noqa: E402
from ledgrab.storage.activity_query import page_rows, total_for  # noqa: E402

WAKE_S = 0.002


def lateness(op: Callable[[], object], seconds: float) -> list[float]:
    """Milliseconds each 2 ms wake-up of this thread, and its sending of four 900-byte
    datagrams (one frame each to four strips; each send lets go of the GIL), came late while
    `op` loops in another thread."""
    stop = threading.Event()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    frame = bytes(900)

    def worker() -> None:
        while not stop.is_set():
            op()

    thread = threading.Thread(target=worker, name="heavy-reader")
    thread.start()
    late = []
    due = time.monotonic()
    end = due + seconds
    while due < end:
        due += WAKE_S
        time.sleep(max(0.0, due - time.monotonic()))
        for _ in range(4):
            out.sendto(frame, sink.getsockname())
        late.append((time.monotonic() - due) * 1000)
        due = max(due, time.monotonic())
    stop.set()
    thread.join()
    sink.close()
    out.close()
    return late


def operations(conn: sqlite3.Connection, tmp: Path) -> dict[str, Callable[[], object]]:
    everything = ActivityLogFilters()
    newest = conn.execute("SELECT max(seq) FROM activity_log").fetchone()[0]
    entries = ActivityLogRepository.fetch_chained(conn, everything, CHUNK_ROWS, newest + 1)
    search = ActivityLogFilters(message_like="Porch")
    backup_path = tmp / "copy.db"

    def text_search() -> None:
        total_for(conn, search)
        page_rows(conn, search, ActivityLogRepository.seq_bounds(conn), 50)

    def backup() -> None:
        with sqlite3.connect(backup_path) as target:
            conn.backup(target)
        backup_path.unlink()

    return {
        "nothing (the probe alone)": lambda: time.sleep(0.01),
        f"read {CHUNK_ROWS} entries for export": lambda: ActivityLogRepository.fetch_chained(
            conn, everything, CHUNK_ROWS, newest + 1
        ),
        f"encode {CHUNK_ROWS} entries as CSV": lambda: encode_chunk(entries, "csv", False),
        f"encode {CHUNK_ROWS} entries as NDJSON": lambda: encode_chunk(entries, "ndjson", False),
        "text search (count + first page)": text_search,
        "backup copy of the database": backup,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--switch", default="0.005,0.001,0.0005", help="switch intervals, seconds")
    args = parser.parse_args()
    switches = [float(s) for s in args.switch.split(",")]
    conn = sqlite3.connect(
        f"{build(args.rows).resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
    )
    with tempfile.TemporaryDirectory() as tmp:
        ops = operations(conn, Path(tmp))
        print(f"GIL holds: lateness of a thread waking every {WAKE_S * 1000:.0f} ms and sending 4 "
              f"datagrams while the operation loops in another thread; {args.rows:,}-entry log, "
              f"{args.seconds:.0f} s each")  # fmt: skip
        head = f"{'operation':<36} {'ms per call':>11}"
        for s in switches:
            head += f" {f'p99 @{s * 1000:g}ms':>11} {'max':>6}"
        print(head)
        print("-" * len(head))
        for name, op in ops.items():
            line = f"{name:<36} {statistics.median(timed(op, 10)):>11.2f}"
            for s in switches:
                sys.setswitchinterval(s)
                late = lateness(op, args.seconds)
                line += f" {percentile(late, 0.99):>11.2f} {max(late):>6.1f}"
            print(line)
    sys.setswitchinterval(0.005)
    return 0


if __name__ == "__main__":
    sys.exit(main())
