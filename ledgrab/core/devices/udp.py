"""UdpDriver: the shared base of the DDP, WLED and E1.31 drivers (a non-blocking datagram
endpoint with a bounded user-space buffer)."""

from __future__ import annotations

import asyncio
from typing import Any

from ledgrab.core.devices.base import DeviceDriver
from ledgrab.utils.lan_address import AddressRefused, resolve_lan_address

__all__ = ["MAX_BUFFERED_BYTES", "ErrorNotingProtocol", "UdpDriver"]

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
        self._state = "open"
        self.last_error = None

    def packets(self, frame: bytes) -> list[bytes]:
        raise NotImplementedError

    def send(self, frame: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            raise self._fail("the socket is closed")
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            self.frames_dropped += 1
            return
        for packet in self.packets(frame):
            transport.sendto(packet)
        self.frames_sent += 1

    async def close(self, *, restore: bool = False) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._state = "closed"

    def details(self) -> dict[str, Any]:
        return {
            "remote": None if self.remote is None else list(self.remote),
            "network_error": self.net_error,
        }
