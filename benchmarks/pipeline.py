"""Frame pipeline benchmark: K targets x N LEDs at 60 fps into DDP receivers on loopback.

Runs `ledgrab serve` as a child process (so its CPU time and memory are its own), creates K DDP
devices pointing at K UDP sockets of this process, one moving rainbow per target (every frame is
computed anew from the time), starts them, and measures over a window:
  cpu %    CPU seconds of the server process and its frame pacer per wall second (100 = one
           core)
  rss MB   the server's resident memory at the end of the window
  pacer MB the frame pacer process's private memory (what it adds beside the server's rss)
  paced %  the share of the window in which network frames went through the pacer (on demand:
           while the frame loop was held up; 100 with `--pacing always`)
  fps      frames received per target per second (the last packet of each frame, PUSH)
  skipped  frames the server's loops skipped (a whole interval late), all targets, whole run
  jitter   |arrival interval - 1/60 s| at the receivers (kernel arrival stamps), p50 and
           p99, in ms
  preempt/s  involuntary context switches of the server per second: the scheduler taking the
           CPU away. With the load average, it tells jitter caused by other processes apart
           from jitter of the server's own making.
Usage: python benchmarks/pipeline.py [--quick] [--seconds S] [--targets 1,4,8] [--leds 60,300]
       [--no-frame-thread]  (frame loops on the server's event loop, to compare)
       [--frame-priority P]  (the frame thread's SCHED_FIFO priority; 0: normal scheduling)
"""

from __future__ import annotations

import argparse
import itertools
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._engine_options import add_engine_options, engine_profile, engine_toml
from benchmarks._pacing import paced_seconds, paced_share
from benchmarks._process_tree import children_private_mb, tree_cpu_seconds
from benchmarks._receivers import StampedReceivers
from benchmarks._stats import percentile

FPS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, workdir: Path, *, engine: str = "") -> None:
        self.key = "bench-" + secrets.token_hex(16)
        self.port = _free_port()
        config = workdir / "ledgrab.toml"
        # Plain HTTP: this measures frames; what TLS costs a request is in api_latency.py.
        config.write_text(
            'demo_on_first_start = false\nlog_level = "warning"\n'
            '[server]\ntls = "off"\nhttp_redirect_port = -1\n' + engine
        )
        env = {
            **os.environ,
            "LEDGRAB_API_KEYS": f"bench:{self.key}",
            "LEDGRAB_DATA_DIR": str(workdir / "data"),
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledgrab",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--config",
                str(config),
            ],
            env=env,
        )
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        self.ps = psutil.Process(self.proc.pid)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.ps)

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 1e6

    def post(self, path: str, body: dict | None = None) -> dict:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def clear(self) -> None:
        for target in self.http.get("/api/v1/targets").json():
            self.http.delete(f"/api/v1/targets/{target['id']}").raise_for_status()
        for kind in ("devices", "sources"):
            for entity in self.http.get(f"/api/v1/{kind}").json():
                self.http.delete(f"/api/v1/{kind}/{entity['id']}").raise_for_status()

    def stop(self) -> None:
        self.http.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_case(server: Server, k: int, n: int, seconds: float, warmup: float) -> dict:
    receivers = StampedReceivers(k)
    try:
        target_ids = []
        for index, port in enumerate(receivers.ports):
            device = server.post(
                "/api/v1/devices",
                {
                    "type": "ddp",
                    "name": f"bench{index}",
                    "led_count": n,
                    "address": "127.0.0.1",
                    "port": port,
                },
            )
            source = server.post(
                "/api/v1/sources",
                {
                    "name": f"rainbow{index}",
                    "kind": "rainbow",
                    "params": {"speed": 0.25 + 0.05 * index, "cycles": 2},
                },
            )
            target = server.post(
                "/api/v1/targets",
                {
                    "name": f"t{index}",
                    "device_id": device["id"],
                    "source_id": source["id"],
                    "fps": FPS,
                    "brightness": 0.8,
                },
            )
            target_ids.append(target["id"])
        for target_id in target_ids:
            server.post(f"/api/v1/targets/{target_id}/start")
        time.sleep(warmup)
        paced0, paced_t0 = paced_seconds(server.http), time.monotonic()
        receivers.recording = True
        cpu0, wall0 = server.cpu_seconds(), time.monotonic()
        preempt0 = server.ps.num_ctx_switches().involuntary
        time.sleep(seconds)
        cpu1, wall1 = server.cpu_seconds(), time.monotonic()
        preempt1 = server.ps.num_ctx_switches().involuntary
        receivers.recording = False
        paced = paced_share(paced0, paced_seconds(server.http), time.monotonic() - paced_t0)
        rss, pacer = server.rss_mb(), children_private_mb(server.ps)
        skipped = sum(
            server.http.get(f"/api/v1/targets/{t}/state").json()["frames_skipped"]
            for t in target_ids
        )
        for target_id in target_ids:
            server.post(f"/api/v1/targets/{target_id}/stop")
        server.clear()
    finally:
        receivers.close()
    jitter = []
    frames = 0
    for arrivals in receivers.arrivals:
        frames += len(arrivals)
        jitter += [abs((b - a) - 1 / FPS) * 1000 for a, b in itertools.pairwise(arrivals)]
    wall = wall1 - wall0
    return {
        "k": k,
        "n": n,
        "cpu": 100 * (cpu1 - cpu0) / wall,
        "rss": rss,
        "pacer": pacer,
        "paced": paced,
        "fps": frames / k / wall,
        "skipped": skipped,
        "preempt": (preempt1 - preempt0) / (wall1 - wall0),
        "p50": percentile(jitter, 0.50),
        "p99": percentile(jitter, 0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s windows instead of 10 s")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--targets", default="1,4,8")
    parser.add_argument("--leds", default="60,300,1200")
    add_engine_options(parser)
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    warmup = 1.0 if args.quick else 2.0
    ks = [int(x) for x in args.targets.split(",")]
    ns = [int(x) for x in args.leds.split(",")]

    with tempfile.TemporaryDirectory(prefix="ledgrab-bench-") as tmp:
        server = Server(Path(tmp), engine=engine_toml(args))
        try:
            time.sleep(1.0)
            idle0, t0 = server.cpu_seconds(), time.monotonic()
            time.sleep(min(seconds, 3.0))
            idle_cpu = 100 * (server.cpu_seconds() - idle0) / (time.monotonic() - t0)
            idle_rss = server.rss_mb()
            load_before = os.getloadavg()[0]
            rows = [run_case(server, k, n, seconds, warmup) for k in ks for n in ns]
            load_after = os.getloadavg()[0]
        finally:
            server.stop()

    print(
        f"LedGrab frame pipeline: DDP to loopback at {FPS} fps, {seconds:.0f} s per case, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load average {load_before:.1f} before / {load_after:.1f} after"
        + "".join(f"; {phrase}" for phrase in engine_profile(args))
    )
    print(f"idle server (no targets): cpu {idle_cpu:.2f} %, rss {idle_rss:.1f} MB")
    header = (
        f"{'targets':>7} {'leds':>5} {'cpu %':>7} {'rss MB':>7} {'pacer MB':>8} {'paced %':>7} "
        f"{'fps/target':>10} "
        f"{'skipped':>7} {'preempt/s':>9} {'jitter p50 ms':>13} {'jitter p99 ms':>13}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['k']:>7} {r['n']:>5} {r['cpu']:>7.2f} {r['rss']:>7.1f} {r['pacer']:>8.1f} "
            f"{r['paced']:>7.0f} {r['fps']:>10.1f} "
            f"{r['skipped']:>7} {r['preempt']:>9.1f} {r['p50']:>13.3f} {r['p99']:>13.3f}"
        )
    budget = next((r for r in rows if r["k"] == 4 and r["n"] == 300), None)
    if budget is not None:
        memory = budget["rss"] + budget["pacer"]
        verdict = budget["cpu"] <= 3.0 and budget["p99"] <= 2.0 and memory <= 60.0
        print(
            f"budget (4 x 300 at 60 fps: cpu <= 3 %, jitter p99 <= 2 ms, rss + pacer MB <= 60 "
            f"MB; here {memory:.1f}): "
            f"{'met' if verdict else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
