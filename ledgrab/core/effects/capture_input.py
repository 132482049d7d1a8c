"""One capture source's frame buffer: sender arbitration, stream start/stop, a fixed-size frame."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from typing import Any

import msgspec

from ledgrab.core.event_bus import EventBus

__all__ = ["DDP_PRIORITY", "CaptureInput", "CaptureInputStats"]

log = logging.getLogger("ledgrab.capture")

# DDP has no priority field; it ranks as E1.31's default so neither protocol is favoured.
DDP_PRIORITY = 100
# E1.31-2016 6.7.2: a sequence number 1..20 behind the last one is a late packet; drop it.
_LATE_WINDOW = 20


class CaptureInputStats(msgspec.Struct):
    packets: int = 0  # accepted into the frame buffer
    frames: int = 0  # complete frames (DDP push, or the highest E1.31 universe of a stream)
    dropped_other_sender: int = 0  # lost the arbitration to the sender that holds the input
    dropped_late: int = 0  # E1.31 packets older than the last one (out of order)
    clipped_bytes: int = 0  # pixel data beyond this input's LED count
    streams: int = 0  # streams started


class CaptureInput:
    """Fed by a listener on the event loop (offer/terminate); read from any thread (frame()).

    Arbitration: with no live stream, the first sender takes the input. A sender with a higher
    priority takes it over; otherwise the holder keeps it until it stops or `timeout_s` passes
    without a packet from it. Every stream start and stop goes through `_capture_started` and
    `_capture_stopped`.
    """

    def __init__(
        self,
        *,
        protocol: str,
        led_count: int,
        timeout_s: float,
        bus: EventBus | None = None,
        source_id: str | None = None,
        source_name: str | None = None,
        universe: int = 1,
        universe_size: int = 510,
        on_frame: Callable[[CaptureInput], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.protocol = protocol
        self.led_count = led_count
        self.timeout_s = timeout_s
        self.universe = universe
        self.universe_size = universe_size
        self.universe_count = -(-led_count * 3 // universe_size)
        self.source_id = source_id
        self.source_name = source_name
        self._bus = bus
        self._on_frame = on_frame
        self._listeners: list[Callable[[], None]] = []
        self._clock = clock
        size = led_count * 3
        self._back = bytearray(size)  # DDP packets of the frame being assembled
        self._front = bytearray(size)  # the last complete frame
        self.version = 0  # bumps whenever the front buffer changes
        self.stats = CaptureInputStats()
        self.sender: Hashable | None = None
        self.sender_label: str | None = None
        self.priority = 0
        self.started_at: float | None = None  # unix time of the current stream's start
        self._last_packet = 0.0
        self._uses_push = False
        self._sequences: dict[int, int] = {}
        self._top_universe = 0
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    @property
    def live(self) -> bool:
        return self.sender is not None

    def frame(self) -> bytes:
        """A copy of the last complete frame (RGB bytes, 3 per LED); black before the first."""
        return bytes(self._front)

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener()` on the loop at each complete frame; returns the detach."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def state(self) -> dict[str, Any]:
        return {
            "live": self.live,
            "sender": self.sender_label,
            "priority": self.priority if self.live else None,
            "started_at": self.started_at,
            "stats": msgspec.to_builtins(self.stats),
        }

    # ---- fed by the listener (event loop) --------------------------------------------------

    def offer_ddp(self, sender: Hashable, label: str, offset: int, data: memoryview, push: bool):
        if not self._admit(sender, label, DDP_PRIORITY):
            return
        self.stats.packets += 1
        self._write(self._back, offset, data)
        self._uses_push = self._uses_push or push
        # A sender that never sets PUSH shows each packet as it lands (the DDP spec's fallback).
        if push or not self._uses_push:
            self._front[:] = self._back
            self._frame_done(True)

    def offer_e131(
        self,
        sender: Hashable,
        label: str,
        priority: int,
        universe: int,
        sequence: int,
        data: memoryview,
    ) -> None:
        if not self._admit(sender, label, priority):
            return
        last = self._sequences.get(universe)
        if last is not None and -_LATE_WINDOW < ((sequence - last + 128) % 256) - 128 <= 0:
            self.stats.dropped_late += 1
            return
        self._sequences[universe] = sequence
        self.stats.packets += 1
        index = universe - self.universe
        self._write(self._front, index * self.universe_size, data[: self.universe_size])
        self._top_universe = max(self._top_universe, universe)
        self._frame_done(universe == self._top_universe)

    def terminate(self, sender: Hashable) -> None:
        """The sender said its stream ended (E1.31 stream-terminated option)."""
        if sender == self.sender:
            self._end_stream("terminated")

    def close(self) -> None:
        if self.live:
            self._end_stream("closed")
        self.closed = True

    # ---- internals -------------------------------------------------------------------------

    def _admit(self, sender: Hashable, label: str, priority: int) -> bool:
        now = self._clock()
        if self.sender is not None and now - self._last_packet >= self.timeout_s:
            self._end_stream("timeout")  # the timer has not run yet; the holder is gone anyway
        if self.sender is not None and sender != self.sender:
            if priority <= self.priority:
                self.stats.dropped_other_sender += 1
                return False
            self._end_stream("superseded")
        if self.sender is None:
            self._begin_stream(sender, label, priority)
        self.priority = priority
        self._last_packet = now
        return True

    def _write(self, buffer: bytearray, offset: int, data: memoryview) -> None:
        room = max(0, len(buffer) - offset)
        take = min(room, len(data))
        if take:
            buffer[offset : offset + take] = data[:take]
        self.stats.clipped_bytes += len(data) - take

    def _frame_done(self, complete: bool) -> None:
        self.version += 1
        if complete:
            self.stats.frames += 1
            for listener in tuple(self._listeners):
                listener()
        if self._on_frame is not None:
            self._on_frame(self)

    def _begin_stream(self, sender: Hashable, label: str, priority: int) -> None:
        self.sender, self.sender_label, self.priority = sender, label, priority
        self.started_at = time.time()
        self._uses_push = False
        self._sequences.clear()
        self._top_universe = 0
        self._back[:] = bytes(len(self._back))
        self.stats.streams += 1
        self._arm_timer(self.timeout_s)
        self._capture_started()

    def _end_stream(self, reason: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._capture_stopped(reason)
        self.sender = self.sender_label = self.started_at = None
        self.priority = 0

    def _arm_timer(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # fed outside a loop (a unit test): timeouts are checked on offer
            return
        self._timer = loop.call_later(delay, self._check_timeout)

    def _check_timeout(self) -> None:
        self._timer = None
        if self.sender is None:
            return
        idle = self._clock() - self._last_packet
        if idle >= self.timeout_s:
            self._end_stream("timeout")
        else:
            self._arm_timer(self.timeout_s - idle)

    # ---- transitions: one call site each --------------------------------------------------

    def _capture_started(self) -> None:
        log.info(
            "capture %s: %s stream from %s (priority %d)",
            self.source_name or self.source_id,
            self.protocol.upper(),
            self.sender_label,
            self.priority,
        )
        if self._bus is not None:
            self._bus.publish("capture_started", self._event(sender=self.sender_label))

    def _capture_stopped(self, reason: str) -> None:
        log.info(
            "capture %s: stream from %s stopped (%s)",
            self.source_name or self.source_id,
            self.sender_label,
            reason,
        )
        if self._bus is not None:
            self._bus.publish(
                "capture_stopped", self._event(sender=self.sender_label, reason=reason)
            )

    def _event(self, **extra: Any) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "source_name": self.source_name,
            "protocol": self.protocol,
            "priority": self.priority,
            **extra,
        }
