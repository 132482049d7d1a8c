"""Setting the board's clock by hand, without giving the web process CAP_SYS_TIME: the server
writes one small request file into a directory; a privileged one-shot helper (`python -m
ledgrab.set_clock`, started by a systemd path unit) sets the clock if the request is sane and
no time server has synchronised it, and writes back one result line. Only an integer crosses."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EARLIEST_US",
    "LATEST_US",
    "REQUEST",
    "RESULT",
    "ClockSetResult",
    "serve_request",
    "submit_request",
]

REQUEST = "request"
RESULT = "result"
_MAX_BYTES = 64  # "set <microseconds>\n" is under 30
# The range a hand-set time may take: after this code was written, before the year 2100.
EARLIEST_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
LATEST_US = 4_102_444_800_000_000  # 2100-01-01T00:00:00Z


@dataclass(frozen=True)
class ClockSetResult:
    """`ok` with the time before and after (µs), or a refusal with its reason."""

    ok: bool
    reason: str = ""
    old_us: int = 0
    new_us: int = 0


def _write_atomically(path: Path, text: str) -> None:
    """Never through a link someone left in the directory (the helper writes as root)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def _read_small(path: Path) -> str | None:
    """The file's text, or None when absent, a symlink, not a regular file or too long."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, _MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > _MAX_BYTES:
        return None
    return data.decode("ascii", "replace")


def _parse_result(text: str) -> ClockSetResult | None:
    parts = text.strip().split(" ", 1)
    if parts[0] == "ok" and len(parts) == 2:
        old, _, new = parts[1].partition(" ")
        if old.isdigit() and new.isdigit():
            return ClockSetResult(True, old_us=int(old), new_us=int(new))
    if parts[0] == "refused":
        return ClockSetResult(False, parts[1] if len(parts) == 2 else "refused")
    return None


def submit_request(
    directory: Path, target_us: int, timeout_s: float, poll_s: float = 0.05
) -> ClockSetResult | None:
    """(Web side, blocking.) Ask for the clock to be set to `target_us`; the helper's answer,
    or None when none came within `timeout_s` (the request is then withdrawn)."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    result_path, request_path = directory / RESULT, directory / REQUEST
    result_path.unlink(missing_ok=True)
    _write_atomically(request_path, f"set {target_us}\n")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = _read_small(result_path)
        if text is not None and (result := _parse_result(text)) is not None:
            result_path.unlink(missing_ok=True)
            return result
        time.sleep(poll_s)
    request_path.unlink(missing_ok=True)
    return None


def _decide(text: str | None, synchronised: Callable[[], bool | None]) -> tuple[int | None, str]:
    if text is None:
        return None, "no readable request"
    verb, _, value = text.strip().partition(" ")
    if verb != "set" or not (value.isascii() and value.isdigit()):
        return None, "the request is not 'set <microseconds>'"
    target_us = int(value)
    if not EARLIEST_US <= target_us < LATEST_US:
        return None, "the time is outside 2026-01-01 .. 2100-01-01"
    if synchronised():
        return None, "a time server has synchronised the clock; it is not set by hand"
    return target_us, ""


def serve_request(
    directory: Path,
    *,
    set_time: Callable[[float], None],
    synchronised: Callable[[], bool | None],
    wall: Callable[[], float] = time.time,
) -> ClockSetResult | None:
    """(Privileged side.) Answer the waiting request, if any: set the clock through `set_time`
    (clock_settime on the board; a fake in tests) or refuse, and write the result line."""
    request_path = directory / REQUEST
    if not os.path.lexists(request_path):
        return None
    text = _read_small(request_path)
    request_path.unlink(missing_ok=True)
    target_us, reason = _decide(text, synchronised)
    if target_us is None:
        result = ClockSetResult(False, reason)
        line = f"refused {reason}\n"
    else:
        old_us = int(wall() * 1_000_000)
        set_time(target_us / 1_000_000)
        new_us = int(wall() * 1_000_000)
        result = ClockSetResult(True, old_us=old_us, new_us=new_us)
        line = f"ok {old_us} {new_us}\n"
    _write_atomically(directory / RESULT, line)
    return result
