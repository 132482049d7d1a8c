"""The floor of the frame benchmarks: a process that does nothing but send DDP frames at 60 fps.

It times its frames as the server's frame thread does (an event loop of the server's kind, the
same timerfd FrameTimer, the same SCHED_FIFO priority, niceness and CPU) but shares its
interpreter with nothing. Its jitter under a load is what this machine gives any frame sender
there, so the server's jitter can be read against it: what lies above the floor is LedGrab's.
Usage (started by interference.py): python -m benchmarks._floor_sender PRIORITY PORT [PORT ...]
It runs until its standard input closes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time

from ledgrab.core.processing.frame_timer import FrameTimer

FPS = 60
LEDS = 300
# DDP: flags (version 1, push), sequence, data type (RGB, 8 bits), destination id (display),
# byte offset, data length.
_HEADER = bytes([0x41, 0x00, 0x0B, 0x01, 0, 0, 0, 0]) + (LEDS * 3).to_bytes(2, "big")


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # the server's loop when uvloop is installed, as it is for the benchmarks
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main() -> int:
    priority, ports = int(sys.argv[1]), [int(p) for p in sys.argv[2:]]
    if priority:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    loop = _new_loop()
    timer = FrameTimer(loop)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    packet = _HEADER + bytes(range(256)) * 3 + bytes(LEDS * 3 - 768)
    period = 1 / FPS
    deadline = time.monotonic() + period

    def tick() -> None:
        nonlocal deadline
        for port in ports:
            sock.sendto(packet, ("127.0.0.1", port))
        deadline += period
        now = time.monotonic()
        if deadline < now:  # as a target does: a missed frame is skipped, not sent late twice
            deadline += (now - deadline) // period * period + period
        timer.call_at(deadline, tick)

    timer.call_at(deadline, tick)
    loop.add_reader(sys.stdin.fileno(), loop.stop)
    loop.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
