"""Is the system clock synchronised, and which boot is this? A Raspberry Pi has no real-time
clock: until a time server answers, the time is the last one saved on the card."""

from __future__ import annotations

import ctypes
from pathlib import Path

import msgspec

__all__ = ["ClockStatus", "boot_id", "clock_synchronised"]

# adjtimex(2) answers TIME_ERROR while the kernel's STA_UNSYNC flag is set: nothing (NTP,
# systemd-timesyncd, chrony) has disciplined the clock since boot.
_TIME_ERROR = 5
_TIMEX_BYTES = 512  # struct timex is 208 bytes on 64-bit Linux; modes = 0 only reads it
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


class ClockStatus(msgspec.Struct):
    synchronised: bool | None  # None: cannot be told here (not Linux)
    boot_id: str | None
    method: str = "adjtimex"


def clock_synchronised() -> bool | None:
    """The kernel's view, read with adjtimex (no privilege needed, no file read)."""
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: libc is among them, no search
        timex = ctypes.create_string_buffer(_TIMEX_BYTES)  # zeroed: modes = 0, a pure read
        answer = libc.adjtimex(timex)
    except (OSError, AttributeError):
        return None
    if answer < 0:
        return None
    return answer != _TIME_ERROR


def boot_id() -> str | None:
    """The kernel's id of this boot (blocking: a file read)."""
    try:
        return _BOOT_ID.read_text().strip() or None
    except OSError:
        return None
