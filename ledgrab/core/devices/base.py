"""The driver interface (open, send, close, health) and ThreadedDriver for blocking outputs.

`send()` is called on the event loop once per frame and must never block: network drivers hand
the datagrams to a non-blocking transport; drivers that must block (serial, /dev/leds0, the WS281x
DMA wait) subclass ThreadedDriver, whose writer thread takes frames from a one-slot mailbox. A
frame that arrives while the previous one is still unwritten replaces it (newest wins, counted in
`frames_dropped`), so a slow line can never queue up memory or latency.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from typing import Any, Literal

import msgspec

__all__ = ["DeviceDriver", "DriverError", "DriverHealth", "ThreadedDriver"]

DriverState = Literal["closed", "open", "error"]


class DriverError(RuntimeError):
    """The device cannot take frames now; the frame loop reconnects with backoff."""


class DriverHealth(msgspec.Struct, kw_only=True):
    state: DriverState
    frames_sent: int = 0
    frames_dropped: int = 0
    last_error: str | None = None
    details: dict[str, Any] = {}


class DeviceDriver(ABC):
    """One device's output. Frames are wire-ready bytes: reordered, 3 or 4 bytes per LED."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.frames_sent = 0
        self.frames_dropped = 0
        self.last_error: str | None = None
        self._state: DriverState = "closed"

    @abstractmethod
    async def open(self) -> None:
        """Connect; raise DriverError (or OSError) when the device cannot be reached."""

    @abstractmethod
    def send(self, frame: bytes) -> None:
        """Queue one frame without blocking; raise DriverError if the device failed."""

    def send_for(self, frame: bytes, at: float, next_at: float = 0.0) -> None:
        """Like `send()`, for the frame loop's grid point `at` (time.monotonic(); `next_at` the
        next one, 0 if not known): a driver that can hold frames back (a network driver with the
        frame pacer) sends it at `at` plus the pacer's lead; the others send it now."""
        self.send(frame)

    def tick_delay_s(self) -> float:
        """How long after its grid point the frame loop makes this device's next frame (read
        once per tick, when the next one is scheduled): 0, but for a network driver paced on
        demand while it sends its frames itself, which are made the pacer's lead later so that
        they leave on the same phase as paced ones."""
        return 0.0

    @abstractmethod
    async def close(self, *, restore: bool = False) -> None:
        """Release the device; `restore` hands it back to its own state where it has one."""

    @property
    def is_open(self) -> bool:
        return self._state == "open"

    def details(self) -> dict[str, Any]:
        return {}

    def health(self) -> DriverHealth:
        return DriverHealth(
            state=self._state,
            frames_sent=self.frames_sent,
            frames_dropped=self.frames_dropped,
            last_error=self.last_error,
            details=self.details(),
        )

    def _fail(self, message: str) -> DriverError:
        self._state = "error"
        self.last_error = message
        return DriverError(message)


class ThreadedDriver(DeviceDriver):
    """A driver whose writes block; subclasses implement the three `_*_blocking` methods."""

    thread_name = "ledgrab-led-writer"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._cond = threading.Condition()
        self._pending: bytes | None = None
        self._stop = False
        self._thread: threading.Thread | None = None
        self._error: str | None = None

    @abstractmethod
    def _open_blocking(self) -> None: ...

    @abstractmethod
    def _write_blocking(self, frame: bytes) -> None: ...

    @abstractmethod
    def _close_blocking(self) -> None: ...

    def _final_frame(self, restore: bool) -> bytes | None:
        """A frame to write after the last queued one when closing (none by default)."""
        return None

    async def open(self) -> None:
        try:
            await asyncio.to_thread(self._open_blocking)
        except DriverError as exc:
            raise self._fail(str(exc)) from None
        except OSError as exc:
            raise self._fail(f"cannot open: {exc}") from None
        self._stop = False
        self._error = None
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        self._state = "open"

    def send(self, frame: bytes) -> None:
        if self._error is not None:
            raise self._fail(self._error)
        with self._cond:
            if self._pending is not None:
                self.frames_dropped += 1
            self._pending = frame
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stop:
                    self._cond.wait()
                frame, self._pending = self._pending, None
                stopping = self._stop
            if frame is not None:
                try:
                    self._write_blocking(frame)
                    self.frames_sent += 1
                except Exception as exc:
                    self._error = f"write failed: {exc}"
                    return
            if stopping:
                return

    async def close(self, *, restore: bool = False) -> None:
        final = self._final_frame(restore)
        with self._cond:
            if final is not None and self._error is None:
                self._pending = final
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)
            self._thread = None
        await asyncio.to_thread(self._close_blocking)
        self._state = "closed"
