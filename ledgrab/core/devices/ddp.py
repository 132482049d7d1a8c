"""DDP (Distributed Display Protocol) sender: 10-byte header, byte offsets, PUSH on the last.

Header (big-endian): flags (version 1 = 0x40, PUSH = 0x01), sequence (1-15; 0 = unused),
data type (0x0B: RGB 8 bits per channel; 0x1B: RGBW), destination (1 = the default output),
data offset in bytes (u32), data length (u16). 1440 data bytes per packet: 480 RGB or 360 RGBW
pixels, so a packet fits a 1500-byte Ethernet MTU.
"""

from __future__ import annotations

import struct
from typing import Any

from ledgrab.core.devices.udp import UdpDriver

__all__ = ["DDP_MAX_DATA", "DdpDriver", "ddp_packets"]

DDP_MAX_DATA = 1440
_VERSION_1 = 0x40
_PUSH = 0x01
_TYPE_RGB8 = 0x0B
_TYPE_RGBW8 = 0x1B
_HEADER = struct.Struct(">BBBBIH")


def ddp_packets(frame: bytes, sequence: int, *, rgbw: bool = False, destination: int = 1):
    """The datagrams carrying one frame; `sequence` is 1-15."""
    dtype = _TYPE_RGBW8 if rgbw else _TYPE_RGB8
    packets = []
    total = len(frame)
    for offset in range(0, max(total, 1), DDP_MAX_DATA):
        chunk = frame[offset : offset + DDP_MAX_DATA]
        last = offset + DDP_MAX_DATA >= total
        flags = _VERSION_1 | (_PUSH if last else 0)
        packets.append(
            _HEADER.pack(flags, sequence, dtype, destination, offset, len(chunk)) + chunk
        )
    return packets


class DdpDriver(UdpDriver):
    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config, context)
        self._sequence = 0

    def packets(self, frame: bytes) -> list[bytes]:
        self._sequence = self._sequence % 15 + 1
        return ddp_packets(
            frame,
            self._sequence,
            rgbw=self.config.rgbw,
            destination=getattr(self.config, "destination", 1),
        )
