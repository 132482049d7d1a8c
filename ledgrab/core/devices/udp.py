"""UdpDriver: the shared base of the DDP, WLED and E1.31 drivers (a non-blocking datagram
endpoint with a bounded user-space buffer, or a slot in the frame pacer's process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ledgrab.core.devices.base import DeviceDriver
from ledgrab.core.processing.pacer import FramePacer, PacerGone, PacerSlot
from ledgrab.utils.lan_address import AddressRefused, resolve_lan_address

__all__ = ["MAX_BUFFERED_BYTES", "ErrorNotingProtocol", "UdpDriver"]

log = logging.getLogger(__name__)

# When the kernel's send buffer is full asyncio keeps datagrams in a list without limit; past
# this many bytes waiting, whole frames are dropped (and counted) instead.
MAX_BUFFERED_BYTES = 64 * 1024


class ErrorNotingProtocol(asyncio.DatagramProtocol):
    def __init__(self, driver: UdpDriver) -> None:
        self._driver = driver

    def error_received(self, exc: Exception) -> None:
        # ICMP "port unreachable" and the like: UDP has no connection to lose, so this is a
        # health note, not a failure; the frames keep going out.
        self._driver.net_error = f"{type(exc).__name__}: {exc}"


class UdpDriver(DeviceDriver):
    """Subclasses build datagrams in `packets(frame)`; `open()` resolves and checks the address."""

    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config)
        self._context = context
        self._transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.net_error: str | None = None
        self._slot: PacerSlot | None = None
        self._opening_slot: asyncio.Task[None] | None = None
        self._paced_tick = False  # this tick's frame goes through the slot (tick_delay_s())
        self._releasing = False  # the slot is given back at the next tick

    @property
    def _pacer(self) -> FramePacer | None:
        pacer = getattr(self._context, "pacer", None)
        return pacer if pacer is not None and pacer.enabled and self._paceable() else None

    def _paceable(self) -> bool:
        """Whether every datagram goes to the one connected address (the pacer sends no other)."""
        return True

    def _destination(self) -> tuple[str, int]:
        return self.config.address, self.config.port

    async def open(self) -> None:
        address, port = self._destination()
        try:
            self.remote = await resolve_lan_address(address, port)
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: ErrorNotingProtocol(self), remote_addr=self.remote
            )
        except AddressRefused as exc:
            raise self._fail(str(exc)) from None
        except OSError as exc:
            raise self._fail(f"cannot reach {address}:{port}: {exc}") from None
        self._transport = transport  # type: ignore[assignment]
        pacer = self._pacer
        if pacer is not None and not pacer.on_demand:
            await self._open_slot(pacer)
        self._state = "open"
        self.last_error = None

    async def _open_slot(self, pacer: FramePacer) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            slot = await pacer.open(transport.get_extra_info("socket"), self._pacer_note)
        except PacerGone as exc:
            # Frames on time matter less than frames at all: this device sends them itself.
            log.warning("%s: sending frames from the frame thread: %s", self.config.name, exc)
            return
        if self._transport is transport:
            self._slot = slot
        else:  # closed while the process started
            pacer.close(slot)

    def _slot_opened(self, task: asyncio.Task[None]) -> None:
        self._opening_slot = None
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "%s: handing the socket to the frame pacer failed",
                self.config.name,
                exc_info=task.exception(),
            )

    def packets(self, frame: bytes) -> list[bytes]:
        raise NotImplementedError

    def send(self, frame: bytes) -> None:
        self._emit(frame, 0.0, 0.0)

    def tick_delay_s(self) -> float:
        pacer = self._pacer
        # Decided here, for the tick being scheduled, so that a slot that opens or closes
        # between two ticks moves the frames from one phase to the other without a gap.
        self._paced_tick = pacer is not None and self._slot is not None and not self._releasing
        return 0.0 if pacer is None or self._paced_tick else pacer.lead_s

    def send_for(self, frame: bytes, at: float, next_at: float = 0.0) -> None:
        pacer = self._pacer
        if pacer is None:
            self._emit(frame, 0.0, 0.0)
            return
        wanted = pacer.wanted(at, time.monotonic())
        if self._paced_tick and self._slot is not None:
            self._emit(frame, at + pacer.lead_s, next_at + pacer.lead_s if next_at else 0.0)
            self._releasing = not wanted  # the next tick comes a lead later and sends itself
            return
        if self._slot is not None and not wanted:
            # The slot's last frame, due a lead after the previous grid point, has left.
            pacer.close(self._slot)
            self._slot = None
        self._releasing = False
        if wanted and self._slot is None and self._opening_slot is None:
            self._opening_slot = asyncio.get_running_loop().create_task(self._open_slot(pacer))
            self._opening_slot.add_done_callback(self._slot_opened)
        self._emit(frame, 0.0, 0.0)

    def _emit(self, frame: bytes, due: float, next_due: float) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            raise self._fail("the socket is closed")
        if self._slot is not None:
            try:
                self._context.pacer.post(self._slot, self.packets(frame), due, next_due)
            except PacerGone as exc:
                raise self._fail(str(exc)) from None
            self.frames_sent += 1
            return
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            self.frames_dropped += 1
            return
        for packet in self.packets(frame):
            transport.sendto(packet)
        self.frames_sent += 1

    def _pacer_note(self, kind: str, body: str | int) -> None:
        if kind == "error":
            self.net_error = str(body)
        else:
            self.frames_dropped += int(body)
            self.frames_sent -= int(body)

    async def close(self, *, restore: bool = False) -> None:
        if self._opening_slot is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._opening_slot)
        if self._slot is not None:
            self._context.pacer.close(self._slot)
            self._slot = None
        self._paced_tick = self._releasing = False
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._state = "closed"

    def details(self) -> dict[str, Any]:
        return {
            "remote": None if self.remote is None else list(self.remote),
            "network_error": self.net_error,
            "sent_by_frame_pacer": self._slot is not None,
        }
