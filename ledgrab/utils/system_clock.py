"""Is the system clock synchronised, which boot is this, and how long since it began? A Raspberry
Pi has no real-time clock: until a time server answers, the time is the last one saved on the
card. `SystemClock` holds the three readings so that tests drive them (a wall clock and a sync
flag of their own) without touching the machine's time."""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

__all__ = [
    "ClockStatus",
    "KernelSyncFlag",
    "SystemClock",
    "boot_id",
    "boot_tag",
    "clock_synchronised",
    "read_stamp",
    "since_boot",
]

# adjtimex(2) answers TIME_ERROR while the kernel's STA_UNSYNC flag is set: nothing (NTP,
# systemd-timesyncd, chrony) has disciplined the clock since boot.
_TIME_ERROR = 5
_TIMEX_BYTES = 512  # struct timex is 208 bytes on 64-bit Linux; modes = 0 only reads it
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
# adjtimex is a real system call (7 µs on the benchmark VM, a third of an activity entry's cost),
# and the flag changes about once per boot; so it is read again at most every second, and at once
# when the wall clock steps (a step sets STA_UNSYNC). NTP slews at most 0.5 ms a second, so a
# change of the wall clock against the monotonic one beyond _STEP_S is a step.
_SYNC_REFRESH_S = 1.0
_STEP_S = 0.05
_adjtimex: Callable[[Any], int] | None = None


class ClockStatus(msgspec.Struct):
    synchronised: bool | None  # None: cannot be told here (not Linux)
    boot_id: str | None
    method: str = "adjtimex"
    # Whether a helper can set the clock by hand here (POST /api/v1/system/clock).
    settable: bool = False


def clock_synchronised() -> bool | None:
    """The kernel's view, read with adjtimex (no privilege needed; a system call: KernelSyncFlag
    remembers it)."""
    global _adjtimex
    try:
        if _adjtimex is None:
            _adjtimex = ctypes.CDLL(None).adjtimex  # the process's own symbols: libc among them
        # A fresh zeroed buffer per call (modes = 0, a pure read): callers are on any thread.
        answer = _adjtimex(ctypes.create_string_buffer(_TIMEX_BYTES))
    except (OSError, AttributeError):
        return None
    if answer < 0:
        return None
    return answer != _TIME_ERROR


class KernelSyncFlag:
    """clock_synchronised(), asked at most once a second, and again at once after a clock step.
    Safe on any thread: a race only reads the kernel twice."""

    def __init__(
        self,
        read: Callable[[], bool | None] = clock_synchronised,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read, self._wall, self._monotonic = read, wall, monotonic
        self._value: bool | None = None
        self._due = -float("inf")
        self._offset = 0.0

    def __call__(self) -> bool | None:
        now = self._monotonic()
        offset = self._wall() - now
        if now >= self._due or abs(offset - self._offset) > _STEP_S:
            self._value = self._read()
            self._due, self._offset = now + _SYNC_REFRESH_S, offset
        return self._value


def boot_id() -> str | None:
    """The kernel's id of this boot (blocking: a file read)."""
    try:
        return _BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def boot_tag(boot: str | None) -> str | None:
    """The first 12 hex digits of a boot id: what an entry keeps (48 bits tell a device's boots
    apart; the whole id would cost 24 more bytes on every entry)."""
    return None if boot is None else boot.replace("-", "")[:12]


def read_stamp(stamp: Any) -> tuple[bool | None, str | None, int | None]:
    """(synced, boot tag, µs since boot) of a stamp as `SystemClock.stamp` writes it; None for
    what is absent or malformed (a restored file may hold anything)."""
    if not isinstance(stamp, list) or len(stamp) != 3:
        return None, None, None
    synced, boot, mono = stamp
    return (
        synced if isinstance(synced, bool) else None,
        boot if isinstance(boot, str) else None,
        mono if type(mono) is int else None,
    )


def since_boot() -> float:
    """Seconds since this boot began (CLOCK_BOOTTIME: never stepped, counts a suspend too)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class SystemClock:
    """The wall clock, the time since boot and the sync flag of one boot. Each attribute is a
    plain callable: tests replace them; nothing here ever sets the machine's clock."""

    def __init__(
        self,
        boot: str | None,
        *,
        wall: Callable[[], float] = time.time,
        since_boot: Callable[[], float] = since_boot,
        synchronised: Callable[[], bool | None] | None = None,
    ) -> None:
        self.boot = boot
        self.wall = wall
        self.since_boot = since_boot
        self.synchronised = synchronised or KernelSyncFlag()

    @property
    def boot(self) -> str | None:
        return self._boot

    @boot.setter
    def boot(self, value: str | None) -> None:
        self._boot, self.boot_tag = value, boot_tag(value)

    def stamp(self) -> list[Any]:
        """What an activity entry keeps about the clock it was recorded by (its `clock`):
        [synchronised, boot tag, µs since boot]. A list, not an object: the key names would
        add ~25 bytes to every entry (docs/clock.md has the flash figures)."""
        return [self.synchronised(), self.boot_tag, int(self.since_boot() * 1_000_000)]

    def status(self, settable: bool = False) -> ClockStatus:
        return ClockStatus(self.synchronised(), self.boot, settable=settable)
