"""Run inside `unshare -n`: a server with the demo target and three forwarders that can never
deliver (TCP syslog to a listener whose queue is full, so connects hang until their timeout;
UDP syslog and OTLP to ports nobody listens on), while entries are recorded at 50/s for
LEDGRAB_PROBE_SECONDS. Prints per-window figures (RSS, CPU, frames) and the forwarders' status
as JSON."""

from __future__ import annotations

import json
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

from tests.support.live_server import LiveServer, wait_for


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _closed_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> dict:
    seconds = float(os.environ.get("LEDGRAB_PROBE_SECONDS", "8"))
    window = max(1.0, seconds / 8)
    # A listener that accepts nothing, its one-place queue taken by a connection of our own:
    # the kernel drops every further SYN, so each connect waits for the forwarder's timeout.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    queued = socket.create_connection(blackhole.getsockname())
    timings = {"poll_interval_s": 0.2, "retry_min_s": 0.2, "retry_max_s": 2.0, "timeout_s": 1.0}
    data = Path(tempfile.mkdtemp(prefix="ledgrab-blackhole-"))
    with LiveServer(data, forwarding=timings) as server, server.client() as client:
        target_id = client.get("/api/v1/targets").json()[0]["id"]
        syslog = {"kind": "syslog", "host": "127.0.0.1"}
        forwarders = [
            {"name": "tcp-blackhole", "target": {**syslog, "port": blackhole.getsockname()[1],
                                                 "transport": "tcp"}},
            {"name": "udp-nobody", "target": {**syslog, "port": _closed_port(socket.SOCK_DGRAM)}},
            {"name": "otlp-nobody", "target": {"kind": "otlp", "url": "http://127.0.0.1:"
                                               f"{_closed_port(socket.SOCK_STREAM)}/v1/logs"}},
        ]  # fmt: skip
        response = client.put("/api/v1/activity/forwarders", json={"forwarders": forwarders})
        assert response.status_code == 200, response.text
        recorder = server.app.state.activity_recorder
        # A warm-up window first: imports, caches and the first batches are not growth.
        samples, recorded = [], 0
        started = time.monotonic()
        frames = client.get(f"/api/v1/targets/{target_id}/state").json()["frames_sent"]
        cpu = _cpu_s()
        next_at = started + window
        while time.monotonic() - started < seconds + window:
            recorder.record("system", "probe.tick", message=f"tick {recorded}",
                            metadata={"n": recorded, "pad": "x" * 200})  # fmt: skip
            recorded += 1
            time.sleep(0.02)
            if time.monotonic() >= next_at:
                now_frames = client.get(f"/api/v1/targets/{target_id}/state").json()["frames_sent"]
                now_cpu, now_rss = _cpu_s(), _rss_kib()
                samples.append({"rss_kib": now_rss, "cpu_share": round((now_cpu - cpu) / window, 3),
                                "fps": round((now_frames - frames) / window, 1)})  # fmt: skip
                frames, cpu = now_frames, now_cpu
                next_at += window
        recorder.flush_blocking()
        wait_for(lambda: all(
            f["status"]["lag_entries"] >= recorded
            for f in client.get("/api/v1/activity/forwarders").json()["forwarders"]
        ), what="the forwarders to see every entry")  # fmt: skip
        statuses = [
            f["status"] for f in client.get("/api/v1/activity/forwarders").json()["forwarders"]
        ]
        health = client.get("/health").json()["components"]["forwarding"]
    queued.close()
    blackhole.close()
    return {"samples": samples, "recorded": recorded, "statuses": statuses, "health": health}


if __name__ == "__main__":
    result = main()
    sys.stdout.write(json.dumps(result) + "\n")
