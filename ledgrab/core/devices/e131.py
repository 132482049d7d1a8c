"""E1.31 (sACN) sender: one data packet per universe of 170 RGB (128 RGBW) pixels.

Layout per ANSI E1.31-2016, section 4 (all big-endian): root layer (preamble 0x0010,
post-amble 0, "ASC-E1.17" identifier, flags+length, vector 4, a 16-byte CID), framing layer
(flags+length, vector 2, 64-byte source name, priority, sync address, sequence, options,
universe), DMP layer (flags+length, vector 2, type 0xa1, first address 0, increment 1, count,
START code 0, then the slots). Multicast goes to 239.255.<universe high>.<universe low>.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import uuid
from typing import Any

from ledgrab.core.devices.udp import ErrorNotingProtocol, UdpDriver

__all__ = ["E131Driver", "e131_packet", "multicast_group", "stable_cid"]

_ACN_ID = b"ASC-E1.17\x00\x00\x00"
_ROOT = struct.Struct(">HH12sHI16s")
_FRAMING = struct.Struct(">HI64sBHBBH")
_DMP = struct.Struct(">HBBHHHB")
_FLAGS = 0x7000
_ROOT_OFFSET, _FRAMING_OFFSET, _DMP_OFFSET = 16, 38, 115
_NAMESPACE = uuid.UUID("6c656467-7261-6200-8000-00000000e131")


def stable_cid(source_name: str) -> bytes:
    """The same sender identity on every start (a name-based UUID of host and source name)."""
    return uuid.uuid5(_NAMESPACE, f"{socket.gethostname()}/{source_name}").bytes


def multicast_group(universe: int) -> str:
    return f"239.255.{universe >> 8}.{universe & 0xFF}"


def e131_packet(
    slots: bytes, *, universe: int, sequence: int, cid: bytes, source_name: str, priority: int
) -> bytes:
    length = 126 + len(slots)
    return b"".join(
        (
            _ROOT.pack(0x0010, 0, _ACN_ID, _FLAGS | (length - _ROOT_OFFSET), 4, cid),
            _FRAMING.pack(
                _FLAGS | (length - _FRAMING_OFFSET),
                2,
                source_name.encode()[:63],
                priority,
                0,  # no synchronisation universe
                sequence & 0xFF,
                0,
                universe,
            ),
            _DMP.pack(_FLAGS | (length - _DMP_OFFSET), 2, 0xA1, 0, 1, len(slots) + 1, 0),
            slots,
        )
    )


class E131Driver(UdpDriver):
    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config, context)
        self._cid = stable_cid(config.source_name)
        self._sequences: dict[int, int] = {}

    def _destination(self) -> tuple[str, int]:
        if self.config.multicast:
            # One endpoint per device: multicast targets the first universe's group; the other
            # universes' packets are addressed explicitly in send().
            return multicast_group(self.config.universe), self.config.port
        return self.config.address, self.config.port

    async def open(self) -> None:
        if not self.config.multicast:
            await super().open()
            return
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        # TTL 1: multicast stays on the local network segment.
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: ErrorNotingProtocol(self), sock=sock
        )
        self._transport = transport  # type: ignore[assignment]
        self.remote = None
        self._state = "open"

    def universes(self, frame: bytes) -> list[tuple[int, bytes]]:
        step = self.config.pixels_per_universe * (4 if self.config.rgbw else 3)
        return [
            (self.config.universe + i, frame[offset : offset + step])
            for i, offset in enumerate(range(0, len(frame), step))
        ]

    def packets(self, frame: bytes) -> list[bytes]:
        out = []
        for universe, slots in self.universes(frame):
            sequence = (self._sequences.get(universe, -1) + 1) & 0xFF
            self._sequences[universe] = sequence
            out.append(
                e131_packet(
                    slots,
                    universe=universe,
                    sequence=sequence,
                    cid=self._cid,
                    source_name=self.config.source_name,
                    priority=self.config.priority,
                )
            )
        return out

    def _paceable(self) -> bool:
        return not self.config.multicast

    def send(self, frame: bytes) -> None:
        if not self.config.multicast:
            super().send(frame)
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            raise self._fail("the socket is closed")
        for (universe, _), packet in zip(self.universes(frame), self.packets(frame), strict=True):
            transport.sendto(packet, (multicast_group(universe), self.config.port))
        self.frames_sent += 1
