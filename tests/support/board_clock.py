"""A Raspberry Pi's clock for tests, installed into the server's SystemClock: the real time
since boot, a wall clock that is `behind_s` late and a sync flag that is off until
`synchronise()`. The machine's own clock is never touched."""

from __future__ import annotations

import time

from ledgrab.utils.system_clock import SystemClock

__all__ = ["BoardClock"]


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
