"""HTTPS against plain HTTP on the same server (TLS handshake, a new connection, a request on an
open one); GET /api/v1/activity over a real `ledgrab serve` holding 1,000,000 entries: p50/p95
per filter and deep paging; a full export: rows per second and the server's peak RSS growth."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import ssl
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
from ledgrab.core.tls.pinning import trusting_context  # noqa: E402
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


Verify = ssl.SSLContext | bool


def serve(
    data: Path, tls: str = "self-signed", pin: str | None = None
) -> tuple[subprocess.Popen, str, Verify]:
    """`ledgrab serve` on a free port: (process, base URL, httpx `verify=`: its certificate only;
    False for plain HTTP, so that httpx does not load a CA bundle for every new client).
    `pin`: a CPU list for `taskset -c`, set before the server starts any thread."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LEDGRAB_API_KEYS": f"bench:{KEY}", "LEDGRAB_DATA_DIR": str(data),
           "LEDGRAB_DISCOVERY_ENABLED": "false", "LEDGRAB_LOG_LEVEL": "warning",
           "LEDGRAB_TLS": tls, "LEDGRAB_HTTP_REDIRECT_PORT": "-1"}  # fmt: skip
    command = as_the_service(
        [sys.executable, "-m", "ledgrab", "serve", "--host", "127.0.0.1", "--port", str(port)], pin
    )
    proc = subprocess.Popen(
        command,
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    scheme = "http" if tls == "off" else "https"
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            verify = trusting_context(data / "tls" / "cert.pem") if scheme == "https" else False
            httpx.get(f"{url}/health", timeout=2, verify=verify)
            return proc, url, verify
        except (httpx.HTTPError, OSError):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)


def as_the_service(command: list[str], pin: str | None = None) -> list[str]:
    """`command` at the niceness the unit gives the service (only root may go below 0), and on
    the CPUs in `pin` (`taskset -c`) if given."""
    if pin:
        command = ["taskset", "-c", pin, *command]
    niceness = unit_niceness()
    if niceness < 0 and os.geteuid() == 0:
        command = ["nice", "-n", str(niceness), *command]
    return command


def unit_niceness() -> int:
    """The `Nice=` the systemd unit starts the service with (0 if it sets none)."""
    unit = ROOT / "systemd" / "ledgrab.service"
    for line in unit.read_text().splitlines():
        if line.startswith("Nice="):
            return int(line.removeprefix("Nice="))
    return 0


def log_data_dir(tmp: Path, rows: int) -> Path:
    """A data directory in `tmp` holding the benchmark log of `rows` entries, with bounds that
    keep them all (the defaults would prune it to 200,000)."""
    data = tmp / "data"
    data.mkdir()
    shutil.copy(build(rows), data / "ledgrab.db")
    conn = sqlite3.connect(data / "ledgrab.db")
    conn.execute(
        "INSERT OR REPLACE INTO settings (key, value) VALUES ('activity_log', ?)",
        (json.dumps({"max_entries": 10_000_000, "max_bytes": 16 * 2**30}),),
    )
    conn.commit()
    conn.close()
    return data


def tls_cost(repeat: int) -> None:
    """Each measure on two servers that differ only in `[server] tls`."""
    measures: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("off", "self-signed"):
            proc, url, verify = serve(Path(tmp) / mode, mode)
            try:
                for name, times in _tls_measures(url, verify, repeat).items():
                    measures.setdefault(name, {})[mode] = times
            finally:
                proc.terminate()
                proc.wait(60)
    print(f"HTTP against HTTPS (TLS 1.3, ECDSA P-256), 127.0.0.1, {repeat} samples each")
    print(f"{'measure':<40} {'HTTP p50':>9} {'p95':>7} {'HTTPS p50':>10} {'p95':>7}  ms")
    for name, by_mode in measures.items():
        http_t, https_t = by_mode["off"], by_mode["self-signed"]
        print(f"{name:<40} {pct(http_t, 0.5):>9.2f} {pct(http_t, 0.95):>7.2f} "
              f"{pct(https_t, 0.5):>10.2f} {pct(https_t, 0.95):>7.2f}")  # fmt: skip
    print()


def _tls_measures(url: str, verify: Verify, repeat: int) -> dict[str, list[float]]:
    port = int(url.rsplit(":", 1)[1])
    context = verify if isinstance(verify, ssl.SSLContext) else None
    out: dict[str, list[float]] = {"TCP connect (+ TLS handshake)": []}
    for _ in range(repeat):
        start = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as raw:
            if context is not None:
                context.wrap_socket(raw, server_hostname="127.0.0.1").close()
        out["TCP connect (+ TLS handshake)"].append((time.perf_counter() - start) * 1000)
    out["new connection + GET /health"] = []
    for _ in range(repeat):
        start = time.perf_counter()
        httpx.get(f"{url}/health", verify=verify).raise_for_status()
        out["new connection + GET /health"].append((time.perf_counter() - start) * 1000)
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, verify=verify, headers=headers) as client:
        client.get("/health")
        for name, path in (
            ("GET /health, open connection", "/health"),
            ("GET /api/v1/devices, open connection", "/api/v1/devices"),
        ):
            out[name] = []
            for _ in range(repeat):
                start = time.perf_counter()
                client.get(path).raise_for_status()
                out[name].append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 entries, 5 requests")
    parser.add_argument("--tls-only", action="store_true", help="only HTTP against HTTPS")
    args = parser.parse_args()
    tls_cost(50 if args.quick else 200)
    if args.tls_only:
        return
    rows, repeat = (100_000, 5) if args.quick else (1_000_000, 20)
    with tempfile.TemporaryDirectory() as tmp:
        data = log_data_dir(Path(tmp), rows)
        proc, url, verify = serve(data)
        try:
            run(url, verify, proc.pid, repeat)
        finally:
            proc.terminate()
            proc.wait(60)


def run(url: str, verify: Verify, pid: int, repeat: int) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    client = httpx.Client(base_url=url, headers=headers, timeout=120, verify=verify)
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
