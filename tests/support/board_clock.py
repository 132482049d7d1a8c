"""A Raspberry Pi's clock for tests, installed into the server's SystemClock: the real time
since boot, a wall clock that is `behind_s` late and a sync flag that is off until
`synchronise()`; and the privileged helper that sets it when the server asks. The machine's own
clock is never touched."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ledgrab.utils.clock_request import serve_request
from ledgrab.utils.system_clock import SystemClock

__all__ = ["BoardClock", "ClockHelper"]


class BoardClock:
    def __init__(self, clock: SystemClock, behind_s: float) -> None:
        self.offset_s = -behind_s
        self.synced = False
        clock.wall = lambda: time.time() + self.offset_s
        clock.synchronised = lambda: self.synced

    def synchronise(self) -> None:
        """What systemd-timesyncd does when a server answers: step the clock, then say so."""
        self.offset_s = 0.0
        self.synced = True

    def set(self, epoch_s: float) -> None:
        """What clock_settime(CLOCK_REALTIME) does: the wall clock jumps; the flag stays off."""
        self.offset_s = epoch_s - time.time()


class ClockHelper:
    """What ledgrab-set-clock.path does on the board: run the helper when a request appears
    (here in a thread, with the board's fake clock as the setter)."""

    def __init__(self, directory: Path, board: BoardClock) -> None:
        self.directory, self.board, self.calls = directory, board, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clock-helper")

    def set_time(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.board.set(seconds)

    def _run(self):
        while not self._stop.wait(0.02):
            serve_request(
                self.directory,
                set_time=self.set_time,
                synchronised=lambda: self.board.synced,
                wall=lambda: time.time() + self.board.offset_s,
            )

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
