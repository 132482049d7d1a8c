"""The virtual device: keeps the last frame and a bounded history of (monotonic time, frame)."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from ledgrab.core.devices.base import DeviceDriver
from ledgrab.models.devices import VirtualDevice

__all__ = ["VirtualDriver"]


class VirtualDriver(DeviceDriver):
    """What a strip would show, in memory; the UI preview and the pacing tests read it."""

    def __init__(self, config: VirtualDevice, history: int = 120) -> None:
        super().__init__(config)
        self.last_frame: bytes = b""
        # Bounded: the newest `history` frames only (about 100 KiB for 300 LEDs at 120).
        self.history: deque[tuple[float, bytes]] = deque(maxlen=history)

    async def open(self) -> None:
        self._state = "open"

    def send(self, frame: bytes) -> None:
        self.last_frame = frame
        self.history.append((time.monotonic(), frame))
        self.frames_sent += 1

    async def close(self, *, restore: bool = False) -> None:
        self._state = "closed"

    def details(self) -> dict[str, Any]:
        return {"last_frame_bytes": len(self.last_frame)}
