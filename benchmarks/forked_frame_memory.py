"""What a frame process forked from the server would cost in memory: its own pages, not its RSS.

Builds the server's app as `ledgrab serve` does (every module imported, start-up objects frozen
for the garbage collector, as the lifespan does), forks, and lets the child send 4 x 300-LED DDP
frames at 60 fps for --seconds on the server's kind of loop and frame timer. Then it prints, from
/proc/PID/smaps_rollup, each process's resident size, its proportional share (PSS: a page shared
by two processes counts half in each) and the pages it alone holds (private). A forked child
shares every page the parent does not write to, so its RSS counts the server's pages a second
time; what the board would spend on it is about its private figure.
Usage: python benchmarks/forked_frame_memory.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._floor_sender import _HEADER, FPS, LEDS, _new_loop
from ledgrab.app import create_app
from ledgrab.config import load_settings
from ledgrab.core.processing.frame_timer import FrameTimer

TARGETS = 4


def memory(pid: int | str = "self") -> dict[str, float]:
    """smaps_rollup of `pid` in MB: rss, pss, private, shared."""
    kib: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            kib[parts[0].rstrip(":")] = int(parts[1])
    return {
        "rss": kib["Rss"] / 1024,
        "pss": kib["Pss"] / 1024,
        "private": (kib["Private_Clean"] + kib["Private_Dirty"]) / 1024,
        "shared": (kib["Shared_Clean"] + kib["Shared_Dirty"]) / 1024,
    }


def send_frames(seconds: float, port: int) -> None:
    """The child: TARGETS frames every 1/FPS s until `seconds` have passed."""
    loop = _new_loop()
    timer = FrameTimer(loop)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    packet = _HEADER + bytes(LEDS * 3)
    period = 1 / FPS
    end = time.monotonic() + seconds
    deadline = time.monotonic() + period

    def tick() -> None:
        nonlocal deadline
        for _ in range(TARGETS):
            sock.sendto(packet, ("127.0.0.1", port))
        if time.monotonic() >= end:
            loop.stop()
            return
        deadline += period
        timer.call_at(deadline, tick)

    timer.call_at(deadline, tick)
    loop.run_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="frames sent (10 s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ledgrab-fork-") as tmp:
        settings = load_settings(overrides={"data_dir": tmp}, environ={})
        app = create_app(settings, None)
        gc.collect()
        gc.freeze()
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # nobody reads: the kernel drops
        sink.bind(("127.0.0.1", 0))
        readable, writable = os.pipe()
        parent_before = memory()
        pid = os.fork()
        if pid == 0:
            os.close(readable)
            send_frames(args.seconds, sink.getsockname()[1])
            os.write(writable, json.dumps(memory()).encode())
            os._exit(0)
        os.close(writable)
        with os.fdopen(readable) as pipe:
            child = json.load(pipe)
        os.waitpid(pid, 0)
        parent_after = memory()
        del app
    header = f"{'process':<52} {'rss MB':>7} {'pss MB':>7} {'own MB':>7} {'shared MB':>9}"
    print(f"A frame process forked from the server's app; Python {sys.version.split()[0]}")
    print(header)
    print("-" * len(header))
    rows = [
        ("the server's app, built, before the fork", parent_before),
        (f"the forked child, after {args.seconds:g} s of {TARGETS} x {LEDS} at {FPS} fps", child),
        ("the server's app, after", parent_after),
    ]
    for label, figures in rows:
        print(
            f"{label:<52} {figures['rss']:>7.1f} {figures['pss']:>7.1f} "
            f"{figures['private']:>7.1f} {figures['shared']:>9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
