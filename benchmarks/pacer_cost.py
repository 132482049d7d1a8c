"""The frame pacer process's own CPU: K devices, one frame each per tick at 60 fps, handed over as
the frame thread hands them (due at the tick's grid point + the lead, the next due announced), to
K UDP receivers on loopback. Its on-CPU time comes from /proc/<pid>/schedstat (nanoseconds), so a
short run measures it closely where the CPU % of a whole server would drown it in noise; on
loopback it includes delivering each datagram to its receiver.
Usage: python benchmarks/pacer_cost.py [--devices 4] [--seconds 10] [--rounds 3]
       [--program PATH]  (another pacer_process.py, to compare; rounds alternate with it)
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._receivers import StampedReceivers
from ledgrab.core.processing.pacer import _PROGRAM, FramePacer

FPS = 60
LEAD_S = 0.006
DDP_FRAME = bytes(10 + 300 * 3)  # one DDP packet of 300 RGB LEDs


def _on_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat") as stats:
        return int(stats.read().split()[0]) / 1e9


async def run(program: Path, devices: int, seconds: float) -> dict:
    """One run; the pacer's CPU over the measured window, warm-up excluded."""
    receivers = StampedReceivers(devices)  # served by a thread of their own; nothing recorded
    senders = []
    for port in receivers.ports:
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.connect(("127.0.0.1", port))
        sender.setblocking(False)
        senders.append(sender)
    pacer = FramePacer(lead_s=LEAD_S, program=program)
    notes: list[tuple[str, object]] = []
    try:
        slots = [await pacer.open(s, lambda k, b: notes.append((k, b))) for s in senders]
        assert pacer.pid is not None
        interval = 1 / FPS
        start = time.monotonic() + 0.1
        warm_ticks, ticks = FPS, int(seconds * FPS)
        cpu_before = 0.0
        for index in range(warm_ticks + ticks):
            grid = start + index * interval
            await asyncio.sleep(max(0.0, grid - time.monotonic()))
            if index == warm_ticks:
                cpu_before = _on_cpu_s(pacer.pid)
            for slot in slots:
                pacer.post(slot, [DDP_FRAME], grid + LEAD_S, grid + interval + LEAD_S)
        await asyncio.sleep(2 * LEAD_S)
        cpu = _on_cpu_s(pacer.pid) - cpu_before
    finally:
        await pacer.aclose()
        receivers.close()
        for sock in senders:
            sock.close()
    frames = ticks * devices
    return {
        "cpu_pct": 100 * cpu / seconds,
        "us_per_frame": 1e6 * cpu / frames,
        "us_per_tick": 1e6 * cpu / ticks,
        "dropped": sum(b for k, b in notes if k == "dropped"),
        "errors": sum(1 for k, _ in notes if k == "error"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--program", type=Path, help="another pacer_process.py to compare")
    args = parser.parse_args()
    programs = {"shipped": _PROGRAM}
    if args.program:
        programs["--program"] = args.program.resolve()
    print(
        f"frame pacer process: {args.devices} devices x 1 DDP packet a tick at {FPS} fps, "
        f"{args.seconds:g} s x {args.rounds} rounds, Python {sys.version.split()[0]}"
    )
    results: dict[str, list[dict]] = {name: [] for name in programs}
    for _ in range(args.rounds):
        for name, program in programs.items():
            results[name].append(asyncio.run(run(program, args.devices, args.seconds)))
    print(
        f"{'program':<10} {'cpu % (median)':>14} {'each round':>22} {'us/frame':>9} "
        f"{'us/tick':>8} {'dropped':>8} {'errors':>6}"
    )
    for name, rounds in results.items():
        cpu = [r["cpu_pct"] for r in rounds]
        print(
            f"{name:<10} {statistics.median(cpu):>14.3f} "
            f"{', '.join(f'{c:.3f}' for c in cpu):>22} "
            f"{statistics.median(r['us_per_frame'] for r in rounds):>9.1f} "
            f"{statistics.median(r['us_per_tick'] for r in rounds):>8.1f} "
            f"{sum(r['dropped'] for r in rounds):>8} {sum(r['errors'] for r in rounds):>6}"
        )


if __name__ == "__main__":
    main()
