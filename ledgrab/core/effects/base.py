"""The frame-source interface: `render(t, led_count) -> bytes` of 3*led_count RGB bytes.

A source is anything a target can pull frames from. Effects compute a frame from the time alone
(deterministic: the same `t` gives the same bytes). A source fed from outside (network capture)
subclasses `FedSource` and calls `feed(frame)` from any thread; `render` then returns the newest
frame fitted to the strip. Sources must be cheap per call: every running target calls `render`
up to 120 times a second on the event loop, so no I/O and no locks held for long.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

__all__ = ["FedSource", "FrameSource", "fit_frame", "hex_to_rgb", "solid"]


@runtime_checkable
class FrameSource(Protocol):
    def render(self, t: float, led_count: int) -> bytes | bytearray:
        """RGB bytes for `led_count` LEDs at `t` seconds since the target started."""
        ...


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    value = int(color[1:7], 16)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def solid(rgb: tuple[int, int, int], led_count: int) -> bytes:
    return bytes(rgb) * led_count


def fit_frame(frame: bytes | bytearray, led_count: int) -> bytes | bytearray:
    """Cut a frame that is too long, pad one that is too short with black."""
    size = led_count * 3
    if len(frame) == size:
        return frame
    if len(frame) > size:
        return frame[:size]
    return bytes(frame) + bytes(size - len(frame))


class FedSource:
    """A source whose frames arrive from outside; holds only the newest (a one-frame buffer)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: bytes = b""
        self.frames_fed = 0

    def feed(self, frame: bytes | bytearray) -> None:
        """Replace the current frame (RGB bytes); callable from any thread."""
        data = bytes(frame)
        with self._lock:
            self._frame = data
            self.frames_fed += 1

    def render(self, t: float, led_count: int) -> bytes | bytearray:
        with self._lock:
            frame = self._frame
        return fit_frame(frame, led_count)
