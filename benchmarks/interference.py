"""Frames under API load: 4 x 300 LEDs at 60 fps, quiet and under each load, vs quiet.

4 targets into DDP receivers on loopback, measured quiet and then under each kind of load a LAN
client can put on the server, in one table with the ratio to the quiet row.

The server is a real `ledgrab serve` (HTTPS, as shipped) holding an activity log of --rows
entries. This process only receives: each UDP receiver takes the kernel's arrival stamp of every
frame (SO_TIMESTAMPNS), so this process's own scheduling does not count as the server's jitter.
The load runs in a child process (its clients would otherwise share this process's GIL with the
receivers). Per row, after a ramp of --ramp seconds, a window of --seconds:
  fps       frames received per target per second
  p50/p99/max  jitter, |arrival interval - 1/60 s| at the receivers, in ms
  late      intervals more than one frame interval late (a frame the strip never showed)
  x quiet   the row's jitter p99 over the quiet row's
  late99    p99 of how late each frame arrived (ms) against the 60 fps grid its earliest one
            sits on: a late frame counts once here, twice in the jitter
  tick99    the server's own p99 of how late its frame timer fired (ms, worst target, its last
            600 ticks, read as the window ends): the part of the jitter that comes before a
            frame's callback starts
  floor99   the jitter p99 (ms) of the floor in the same window: a process that only sends
            4 such frames at 60 fps (benchmarks/_floor_sender.py) on the server's CPUs, with the
            same timer, real-time priority and niceness, sharing its interpreter with nothing.
            It is what this machine gives any frame sender under the row's load.
  x floor   the row's jitter p99 over floor99: what the server adds to the machine's own jitter
  paced %   the share of the window in which the frames went through the frame pacer (on
            demand, the default: while the frame loop was held up; 100 with `--pacing always`)
  cpu %     the server's CPU per wall second (100 = one core), load and its child processes
            (the frame pacer, export workers) included
  ops/s     requests (or websocket messages) the load completed per second: the load is real
--rounds runs the whole set that many times, interleaved; each figure printed is the median over
the rounds (the machine is shared: read medians and ratios, not one run).
--one-core pins the server to CPU 0 (`taskset -c 0`) and this process and the load to the
other CPUs: the profile of a small board, where the clients are elsewhere on the LAN.
--no-frame-thread runs the frame loops on the server's event loop (`[engine] frame_thread =
false`), to compare with the frame thread they have by default.
--frame-priority P sets the frame thread's SCHED_FIFO priority (`[engine] frame_priority`; 0:
normal scheduling), to compare with the real-time priority it asks for by default.
--over-budget-delay S sets `[auth] over_budget_delay_s` (0: refusals and public requests
answered at once, as before the budgets), to see what the storms cost the frames without them.
Usage: python benchmarks/interference.py [--rounds 2] [--seconds 6] [--one-core] [--only a,b]
       [--no-frame-thread] [--frame-priority P] [--over-budget-delay S]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._engine_options import add_engine_options, engine_profile, engine_toml  # noqa: E402
from benchmarks._pacing import paced_seconds, paced_share  # noqa: E402
from benchmarks._process_tree import tree_cpu_seconds  # noqa: E402
from benchmarks._receivers import StampedReceivers  # noqa: E402
from benchmarks._stats import percentile  # noqa: E402
from benchmarks.api_latency import KEY, as_the_service, log_data_dir, serve  # noqa: E402
from ledgrab.config import EngineSettings  # noqa: E402
from ledgrab.core.tls.pinning import trusting_context  # noqa: E402

FPS = 60
TARGETS = 4
LEDS = 300


# -- the loads (run in a child process, each in its own threads) ------------------------------

_WORDS = ["Porch", "Kitchen", "disconnected", "Hall strip", "192.168.1.7", "no such text"]


def _create_sources(client: httpx.Client, n: int) -> int:
    body = {"name": f"load{n}", "kind": "rainbow", "params": {"speed": 0.5}}
    created = client.post("/api/v1/sources", json=body)
    created.raise_for_status()
    client.delete(f"/api/v1/sources/{created.json()['id']}").raise_for_status()
    return 2


def _text_search(client: httpx.Client, n: int) -> int:
    word = _WORDS[n % len(_WORDS)]
    client.get("/api/v1/activity", params={"message_like": word}).raise_for_status()
    return 1


def _csv_export(client: httpx.Client, n: int) -> int:
    with client.stream("GET", "/api/v1/activity/export", params={"format": "csv"}) as r:
        r.raise_for_status()
        for _ in r.iter_bytes():
            pass
    return 1


def _bad_key(client: httpx.Client, n: int) -> int:
    headers = {"Authorization": f"Bearer wrong-{n % 97:02d}-0123456789abcdef"}
    status = client.get("/api/v1/devices", headers=headers).status_code
    if status not in (401, 403, 429):
        raise RuntimeError(f"a wrong key was answered {status}")
    return 1


def _public(client: httpx.Client, n: int) -> int:
    client.get("/health", headers={"Authorization": ""}).raise_for_status()
    return 1


def _backup(client: httpx.Client, n: int) -> int:
    with client.stream("GET", "/api/v1/system/backup") as r:
        if r.status_code == 503:  # one backup at a time: a busy answer is load too
            return 0
        r.raise_for_status()
        for _ in r.iter_bytes():
            pass
    return 1


# name: (label, clients, one operation); None: the websocket subscribers
LOADS: dict[str, tuple[str, int, Callable[[httpx.Client, int], int] | None]] = {
    "quiet": ("none", 0, None),
    "create": ("4 clients creating sources", 4, _create_sources),
    "search": ("4 clients doing text searches", 4, _text_search),
    "export": ("4 clients exporting CSV", 4, _csv_export),
    "badkey": ("bad-key storm (8 clients)", 8, _bad_key),
    # Refusals past the free ones are held a second each: an attacker's best is many
    # connections (the server takes 256, and the benchmark's own clients need a few).
    "badkey-wide": ("bad-key storm (200 connections)", 200, _bad_key),
    "public": ("/health storm, no key (8 clients)", 8, _public),
    "backup": ("a backup download, again and again", 1, _backup),
    "ws": ("20 websocket subscribers", 20, None),
}


def _http_worker(url, cert, op, stop, counts, index) -> None:
    context = trusting_context(cert)
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, verify=context, headers=headers, timeout=120) as client:
        n = index * 1_000_000
        while not stop.is_set():
            try:
                counts[index] += op(client, n)
            except httpx.HTTPError:
                counts[-1] += 1
            n += 1


def _ws_worker(url, cert, stop, counts, index) -> None:
    from websockets.sync.client import connect

    ws_url = url.replace("https://", "wss://") + "/api/v1/events/ws"
    headers = {"Authorization": f"Bearer {KEY}"}
    with connect(ws_url, ssl=trusting_context(cert), additional_headers=headers) as ws:
        while not stop.is_set():
            try:
                ws.recv(timeout=0.2)
                counts[index] += 1
            except TimeoutError:
                pass


def run_load(name: str, url: str, cert: str, stop, ready, results) -> None:
    """Child process: run load `name` until `stop`; put (operations, errors) in `results`."""
    _, clients, op = LOADS[name]
    counts = [0] * (clients + 1)
    if op is None:
        threads = [
            threading.Thread(target=_ws_worker, args=(url, cert, stop, counts, i))
            for i in range(clients)
        ]
    else:
        threads = [
            threading.Thread(target=_http_worker, args=(url, cert, op, stop, counts, i))
            for i in range(clients)
        ]
    for thread in threads:
        thread.start()
    ready.set()
    marks = []
    while not stop.wait(0.05):
        marks.append((time.monotonic(), sum(counts[:-1])))
    for thread in threads:
        thread.join()
    results.put((marks, counts[-1]))


# -- the server and the measuring ---------------------------------------------------------------


def start_targets(client: httpx.Client, ports: list[int]) -> list[str]:
    ids = []
    for index, port in enumerate(ports):
        device = {"type": "ddp", "name": f"strip{index}", "led_count": LEDS,
                  "address": "127.0.0.1", "port": port}  # fmt: skip
        source = {"name": f"rainbow{index}", "kind": "rainbow",
                  "params": {"speed": 0.25 + 0.05 * index, "cycles": 2}}  # fmt: skip
        device_id = client.post("/api/v1/devices", json=device).raise_for_status().json()["id"]
        source_id = client.post("/api/v1/sources", json=source).raise_for_status().json()["id"]
        target = {"name": f"t{index}", "device_id": device_id, "source_id": source_id,
                  "fps": FPS, "brightness": 0.8}  # fmt: skip
        target_id = client.post("/api/v1/targets", json=target).raise_for_status().json()["id"]
        client.post(f"/api/v1/targets/{target_id}/start").raise_for_status()
        ids.append(target_id)
    return ids


def late_on_the_grid(stamps: list[float]) -> list[float]:
    """How late each arrival is (ms) against the 60 fps grid the earliest one sits on. The
    server's deadlines are whole multiples of the interval, so unlike the jitter (a late frame
    makes two odd intervals) this counts each late frame once, as the server's tick99 does."""
    if not stamps:
        return []
    interval = 1 / FPS

    def offsets(anchor: float) -> list[float]:
        return [t - anchor - round((t - anchor) / interval) * interval for t in stamps]

    # Anchored on the typical frame, so that a late first one does not shift the grid.
    centred = offsets(stamps[0] + statistics.median(offsets(stamps[0])))
    earliest = min(centred)
    return [(o - earliest) * 1000 for o in centred]


def jitter(arrivals: list[list[float]], seconds: float) -> dict:
    """fps per target and the jitter figures (ms) of one window's arrivals."""
    values, lateness, frames = [], [], 0
    for stamps in arrivals:
        frames += len(stamps)
        values += [abs((b - a) - 1 / FPS) * 1000 for a, b in itertools.pairwise(stamps)]
        lateness += late_on_the_grid(stamps)
    return {
        "late99": percentile(lateness, 0.99),
        "fps": frames / len(arrivals) / seconds,
        "p50": percentile(values, 0.50),
        "p99": percentile(values, 0.99),
        "max": max(values, default=float("nan")),
        "late": sum(1 for j in values if j > 1000 / FPS),
    }


def measure(name, url, cert, server, receivers, floor, ticks, paced, ramp, seconds) -> dict:
    """One row's window: jitter at both sets of receivers, and `ticks()` (the server's tick99)
    read as the window ends, while the load still runs: its 600 ticks would otherwise reach
    into the seconds the load takes to wind down."""
    ctx = mp.get_context("spawn")
    stop, ready, results = ctx.Event(), ctx.Event(), ctx.Queue()
    child = None
    if name != "quiet":
        child = ctx.Process(target=run_load, args=(name, url, cert, stop, ready, results))
        child.start()
        ready.wait(60)
    time.sleep(ramp)
    # Read outside the window: a request to /health takes a while under some loads.
    paced0, paced_t0 = paced(), time.monotonic()
    for stamped in (receivers, floor):
        stamped.take()
        stamped.recording = True
    cpu0, t0 = tree_cpu_seconds(server), time.monotonic()
    time.sleep(seconds)
    cpu1, t1 = tree_cpu_seconds(server), time.monotonic()
    for stamped in (receivers, floor):
        stamped.recording = False
    paced1 = paced()
    paced_share_of_window = paced_share(paced0, paced1, time.monotonic() - paced_t0)
    tick = ticks()
    arrivals, floor_arrivals = receivers.take(), floor.take()
    ops = errors = 0
    if child is not None:
        stop.set()
        marks, errors = results.get(timeout=300)
        child.join(300)
        inside = [count for at, count in marks if t0 <= at <= t1]
        ops = (inside[-1] - inside[0]) / seconds if len(inside) > 1 else 0
    return {
        **jitter(arrivals, seconds),
        "floor": jitter(floor_arrivals, seconds)["p99"],
        "tick": tick,
        "paced": paced_share_of_window,
        "cpu": 100 * (cpu1 - cpu0) / (t1 - t0),
        "ops": ops,
        "errors": errors,
    }


def start_floor(ports: list[int], priority: int, pin: str | None) -> subprocess.Popen:
    """The floor sender (benchmarks/_floor_sender.py) on the server's CPUs, priority and
    niceness; it stops when its standard input is closed."""
    command = [sys.executable, "-m", "benchmarks._floor_sender", str(priority), *map(str, ports)]
    return subprocess.Popen(as_the_service(command, pin), stdin=subprocess.PIPE, cwd=ROOT)


def tick_late_p99(http: httpx.Client, target_id: str) -> float:
    """The server's own p99 of how late its frame timer fired (ms, the last 600 ticks): what the
    event loop and the CPU cost a frame, before the send."""
    return http.get(f"/api/v1/targets/{target_id}/state").json()["late_ms_p99"] or 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of the whole set (2)")
    parser.add_argument("--seconds", type=float, default=6.0, help="window per row (6 s)")
    parser.add_argument("--ramp", type=float, default=1.5, help="load before the window (1.5 s)")
    parser.add_argument("--rows", type=int, default=100_000, help="activity entries (100,000)")
    parser.add_argument("--one-core", action="store_true", help="server on CPU 0 only")
    parser.add_argument("--only", default=",".join(LOADS), help="loads to run, comma-separated")
    parser.add_argument(
        "--over-budget-delay", type=float, metavar="S",
        help="[auth] over_budget_delay_s (default: the shipped 1 s)",
    )  # fmt: skip
    add_engine_options(parser)
    args = parser.parse_args()
    names = ["quiet", *(n for n in args.only.split(",") if n != "quiet")]
    unknown = set(names) - set(LOADS)
    if unknown:
        parser.error(f"unknown load {', '.join(sorted(unknown))}; known: {', '.join(LOADS)}")
    pin = None
    if args.one_core:
        others = set(range(os.cpu_count() or 1)) - {0}
        if not others:
            parser.error("--one-core needs a second CPU for the load and the receivers")
        pin = "0"
        os.sched_setaffinity(0, others)  # this process and the load children it spawns

    rounds: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="ledgrab-interference-") as tmp:
        data = log_data_dir(Path(tmp), args.rows)
        config_text = engine_toml(args)
        if args.over_budget_delay is not None:
            config_text += f"[auth]\nover_budget_delay_s = {args.over_budget_delay}\n"
        if config_text:
            config = Path(tmp) / "ledgrab.toml"
            config.write_text(config_text)
            os.environ["LEDGRAB_CONFIG"] = str(config)  # read by the server serve() starts
        proc, url, verify = serve(data, pin=pin)
        cert = str(data / "tls" / "cert.pem")
        receivers, floor = StampedReceivers(TARGETS), StampedReceivers(TARGETS)
        priority = args.frame_priority
        if priority is None:
            priority = EngineSettings().frame_priority
        floor_sender = start_floor(floor.ports, priority, pin)
        headers = {"Authorization": f"Bearer {KEY}"}
        try:
            with httpx.Client(base_url=url, verify=verify, headers=headers, timeout=60) as http:
                target_ids = start_targets(http, receivers.ports)
                time.sleep(2.0)
                server = psutil.Process(proc.pid)

                def ticks() -> float:
                    return max(tick_late_p99(http, t) for t in target_ids)

                rss = server.memory_info().rss / 1e6
                load_before = os.getloadavg()[0]
                for _ in range(args.rounds):
                    for name in names:
                        row = measure(
                            name, url, cert, server, receivers, floor, ticks,
                            lambda: paced_seconds(http), args.ramp, args.seconds,
                        )  # fmt: skip
                        rounds[name].append(row)
                load_after = os.getloadavg()[0]
                skipped = sum(
                    http.get(f"/api/v1/targets/{t}/state").json()["frames_skipped"]
                    for t in target_ids
                )
        finally:
            floor_sender.stdin.close()  # type: ignore[union-attr]
            floor_sender.wait(60)
            receivers.close()
            floor.close()
            proc.terminate()
            proc.wait(60)

    cpus = "one core (server pinned to CPU 0)" if args.one_core else "all CPUs"
    delay = args.over_budget_delay
    held = [] if delay is None else [f"over-budget delay {delay:g} s"]
    profile = ", ".join([cpus, *engine_profile(args), *held])
    print(
        f"LedGrab frames under load: {TARGETS} x {LEDS} LEDs at {FPS} fps, DDP to loopback, "
        f"HTTPS, {args.rows:,}-entry log; {profile}; {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}"
    )
    print(
        f"{args.rounds} round(s) of {args.seconds:.0f} s per row, medians over the rounds; "
        f"load average {load_before:.1f} before / {load_after:.1f} after; server rss at start "
        f"{rss:.0f} MB; frames the server skipped, whole run: {skipped}"
    )
    header = (
        f"{'load on the same server':<36} {'fps':>5} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'late':>5} {'x quiet':>7} {'late99':>6} {'tick99':>6} {'floor99':>7} {'x floor':>7} "
        f"{'paced %':>7} {'cpu %':>6} {'ops/s':>7} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    quiet_p99 = statistics.median(r["p99"] for r in rounds["quiet"])
    for name in names:
        rows = rounds[name]

        def med(key: str, rows: list[dict] = rows) -> float:
            return statistics.median(r[key] for r in rows)

        print(
            f"{LOADS[name][0]:<36} {med('fps'):>5.1f} {med('p50'):>7.2f} {med('p99'):>7.2f} "
            f"{med('max'):>7.1f} {med('late'):>5.0f} {med('p99') / quiet_p99:>7.2f} "
            f"{med('late99'):>6.2f} {med('tick'):>6.2f} {med('floor'):>7.2f} "
            f"{med('p99') / med('floor'):>7.2f} {med('paced'):>7.0f} {med('cpu'):>6.1f} "
            f"{med('ops'):>7.2f} "
            f"{sum(r['errors'] for r in rows):>6}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
