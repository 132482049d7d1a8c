"""GET /api/v1/activity over a real `ledgrab serve` holding 1,000,000 entries: p50/p95 per filter
and deep paging; a full export: rows per second and the server's peak RSS growth."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._stats import percentile as pct  # noqa: E402
from benchmarks.query import build  # noqa: E402
from ledgrab.storage.activity_query import encode_cursor  # noqa: E402

KEY = "bench-key-0123456789abcdef"


def cases(now: datetime) -> list[tuple[str, dict]]:
    day = timedelta(days=1)
    return [
        ("no filter", {}),
        ("category=auth", {"category": "auth"}),
        ("category=device,system", {"category": ["device", "system"]}),
        ("severity=critical", {"severity": "critical"}),
        ("actor=home-assistant", {"actor": "home-assistant"}),
        ("entity_type=device", {"entity_type": "device"}),
        ("entity_id=dev3", {"entity_id": "dev3"}),
        ("entity_id=(no match)", {"entity_id": "gone"}),
        ("since=now-1d", {"since": (now - day).isoformat()}),
        ("until=now-30d", {"until": (now - 30 * day).isoformat()}),
        ("message_like=Porch", {"message_like": "Porch"}),
        ("message_like=(no match)", {"message_like": "no such text"}),
        ("message_like=Küche (non-ASCII)", {"message_like": "Küche"}),
        ("entity_id+since 7d", {"entity_id": "dev3", "since": (now - 7 * day).isoformat()}),
    ]


def serve(data: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LEDGRAB_API_KEYS": f"bench:{KEY}", "LEDGRAB_DATA_DIR": str(data),
           "LEDGRAB_DISCOVERY_ENABLED": "false", "LEDGRAB_LOG_LEVEL": "warning"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledgrab", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"{url}/health", timeout=2)
            return proc, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 entries, 5 requests")
    args = parser.parse_args()
    rows, repeat = (100_000, 5) if args.quick else (1_000_000, 20)
    source = build(rows)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        shutil.copy(source, data / "ledgrab.db")
        conn = sqlite3.connect(data / "ledgrab.db")
        # Bounds that keep the whole benchmark log (the defaults would prune it to 200,000).
        conn.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('activity_log', ?)",
            (json.dumps({"max_entries": 10_000_000, "max_bytes": 16 * 2**30}),),
        )
        conn.commit()
        conn.close()
        proc, url = serve(data)
        try:
            run(url, proc.pid, repeat)
        finally:
            proc.terminate()
            proc.wait(60)


def run(url: str, pid: int, repeat: int) -> None:
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120)
    now = datetime.now(UTC)
    print(f"GET /api/v1/activity (limit 50), {repeat} requests each; target p95 <= 50 ms")
    print(f"{'case':<30} {'total':>10} {'p50 ms':>8} {'p95 ms':>8}")
    rows_total = 0
    for name, params in cases(now):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.get("/api/v1/activity", params=params)
            times.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
        body = response.json()
        rows_total = max(rows_total, body["total"])
        total = f"{body['total']:,}" + ("" if body["total_exact"] else "+")
        print(f"{name:<30} {total:>10} {pct(times, 0.5):>8.1f} {pct(times, 0.95):>8.1f}")
    for depth in (10, 10_000, rows_total // 2, rows_total - 100):
        cursor = encode_cursor(rows_total - depth)  # the seqs of the benchmark log are 1..N
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            client.get("/api/v1/activity", params={"cursor": cursor}).raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
        label = f"page at depth {depth:,}"
        print(f"{label:<30} {'':>10} {pct(times, 0.5):>8.1f} {pct(times, 0.95):>8.1f}")
    # The next page of a filtered list: its total is carried in the cursor.
    for name, params in [*cases(now)[1:4], cases(now)[10]]:
        cursor = client.get("/api/v1/activity", params=params).json()["next_cursor"]
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            client.get("/api/v1/activity", params={**params, "cursor": cursor}).raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
        label = f"{name}, page 2"
        print(f"{label:<30} {'':>10} {pct(times, 0.5):>8.1f} {pct(times, 0.95):>8.1f}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get("/api/v1/activity/stats").raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{'GET /activity/stats':<30} {'':>10} {pct(times, 0.5):>8.1f} {pct(times, 0.95):>8.1f}")
    export(client, pid)


def export(client: httpx.Client, pid: int) -> None:
    server = psutil.Process(pid)
    baseline = server.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    print()
    print("export of every entry (streamed); target RSS growth < 30 MB")
    print(f"{'format':<8} {'rows':>9} {'MB':>8} {'seconds':>8} {'rows/s':>9} {'RSS growth MB':>14}")
    counted: dict[str, int] = {}
    try:
        for fmt in ("csv", "ndjson", "json"):
            peak[0] = baseline = server.memory_info().rss
            start = time.perf_counter()
            size = lines = 0
            with client.stream("GET", "/api/v1/activity/export", params={"format": fmt}) as r:
                r.raise_for_status()
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            seconds = time.perf_counter() - start
            if fmt == "json":  # one line holds the whole array: same rows as the ndjson run
                rows = counted.get("ndjson", 0)
            else:
                rows = lines - 1 if fmt == "csv" else lines
            counted[fmt] = rows
            print(f"{fmt:<8} {rows:>9,} {size / 1e6:>8.1f} {seconds:>8.1f} "
                  f"{rows / seconds:>9,.0f} {(peak[0] - baseline) / 1e6:>14.1f}")  # fmt: skip
    finally:
        done.set()
        sampler.join()


if __name__ == "__main__":
    main()
