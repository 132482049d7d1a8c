"""Decode DDP and E1.31 (sACN) datagrams into pixel data; anything else raises PacketError."""

from __future__ import annotations

import struct
from typing import NamedTuple

from ledgrab.utils.plain_text import displayable

__all__ = [
    "DDP_DEFAULT_PORT",
    "DDP_MAX_DATAGRAM",
    "E131_DEFAULT_PORT",
    "E131_MAX_DATAGRAM",
    "E131_MAX_PRIORITY",
    "DdpPacket",
    "E131Packet",
    "PacketError",
    "parse_ddp",
    "parse_e131",
]

DDP_DEFAULT_PORT = 4048
E131_DEFAULT_PORT = 5568

# DDP (www.3waylabs.com/ddp): 10-byte header, 14 with a timecode; senders keep the data at or
# under 1440 bytes (480 RGB pixels) so one packet fits an Ethernet frame.
_DDP_HEADER = struct.Struct(">BBBBIH")
_DDP_VERSION_1 = 0x40
_DDP_FLAG_TIMECODE = 0x10
_DDP_FLAG_STORAGE = 0x08
_DDP_FLAG_REPLY = 0x04
_DDP_FLAG_QUERY = 0x02
_DDP_FLAG_PUSH = 0x01
_DDP_RGB_TYPES = frozenset({0x00, 0x01, 0x0B})  # undefined, legacy "RGB", RGB 8 bits per colour
_DDP_DISPLAY_IDS = frozenset({0, 1, 255})  # 1 is the default output, 255 "all"
DDP_MAX_DATAGRAM = 14 + 1472

# E1.31-2016 data packet: root layer (38 bytes), framing layer (77), DMP layer (11), then the
# DMX start code and up to 512 slots: 126..638 bytes in all.
_ACN_ID = b"ASC-E1.17\x00\x00\x00"
_E131_HEADER_LEN = 126
E131_MAX_DATAGRAM = _E131_HEADER_LEN + 512
_ROOT_VECTOR_DATA = 0x00000004
_ROOT_VECTOR_EXTENDED = 0x00000008  # sync and universe discovery: not pixel data
_FRAMING_VECTOR_DATA = 0x00000002
E131_MAX_PRIORITY = 200
_OPTION_PREVIEW = 0x80
_OPTION_TERMINATED = 0x40


class PacketError(Exception):
    """Why a datagram was dropped; `reason` is one of a fixed set of counter names."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class DdpPacket(NamedTuple):
    offset: int  # byte offset into the frame
    data: memoryview
    push: bool  # the sender marks the last packet of a frame
    sequence: int


class E131Packet(NamedTuple):
    cid: bytes  # 16-byte sender id
    source_name: str
    priority: int
    universe: int
    sequence: int
    terminated: bool  # the sender says this stream has ended
    data: memoryview  # DMX slots 1..n


def parse_ddp(datagram: bytes) -> DdpPacket | None:
    """A pixel-data packet, None for a valid packet that carries none (query, status, config)."""
    size = len(datagram)
    if size > DDP_MAX_DATAGRAM:
        raise PacketError("oversized", f"{size} bytes")
    if size < _DDP_HEADER.size:
        raise PacketError("truncated", f"{size}-byte header")
    flags, sequence, data_type, dest, offset, length = _DDP_HEADER.unpack_from(datagram)
    if flags & 0xC0 != _DDP_VERSION_1:
        raise PacketError("malformed", f"DDP version bits {flags >> 6}")
    header = 14 if flags & _DDP_FLAG_TIMECODE else 10
    if flags & (_DDP_FLAG_QUERY | _DDP_FLAG_REPLY | _DDP_FLAG_STORAGE):
        return None
    if dest not in _DDP_DISPLAY_IDS:
        return None
    if data_type not in _DDP_RGB_TYPES:
        raise PacketError("unsupported", f"DDP data type {data_type:#04x}")
    if header + length > size:
        raise PacketError("truncated", f"declares {length} data bytes, carries {size - header}")
    data = memoryview(datagram)[header : header + length]
    return DdpPacket(offset, data, bool(flags & _DDP_FLAG_PUSH), sequence & 0x0F)


def parse_e131(datagram: bytes) -> E131Packet | None:
    """A DMX data packet (start code 0), None for a valid packet that carries no levels."""
    size = len(datagram)
    if size > E131_MAX_DATAGRAM:
        raise PacketError("oversized", f"{size} bytes")
    if size < 22:
        raise PacketError("truncated", f"{size} bytes")
    if datagram[0:4] != b"\x00\x10\x00\x00" or datagram[4:16] != _ACN_ID:
        raise PacketError("malformed", "not an ACN packet (preamble or identifier)")
    root_vector = int.from_bytes(datagram[18:22], "big")
    if root_vector == _ROOT_VECTOR_EXTENDED:
        return None
    if root_vector != _ROOT_VECTOR_DATA:
        raise PacketError("unsupported", f"root vector {root_vector:#x}")
    if size < _E131_HEADER_LEN:
        raise PacketError("truncated", f"{size} bytes, a data packet needs {_E131_HEADER_LEN}")
    if int.from_bytes(datagram[40:44], "big") != _FRAMING_VECTOR_DATA:
        raise PacketError("malformed", "framing vector")
    if datagram[117] != 0x02 or datagram[118] != 0xA1:
        raise PacketError("malformed", "DMP vector or address type")
    priority = datagram[108]
    if priority > E131_MAX_PRIORITY:
        raise PacketError("malformed", f"priority {priority} above {E131_MAX_PRIORITY}")
    universe = int.from_bytes(datagram[113:115], "big")
    if not 1 <= universe <= 63999:
        raise PacketError("malformed", f"universe {universe}")
    count = int.from_bytes(datagram[123:125], "big")  # start code + slots
    if count < 1 or count > 513:
        raise PacketError("malformed", f"property value count {count}")
    if 125 + count > size:
        raise PacketError("truncated", f"declares {count - 1} slots, carries {size - 126}")
    options = datagram[112]
    if options & _OPTION_PREVIEW or datagram[125] != 0x00:
        return None  # preview-only data, or an alternate start code (e.g. per-slot priority)
    # The sender names itself: shown in the log and the UI, so no control or bidi characters.
    name = displayable(
        bytes(datagram[44:108]).split(b"\x00", 1)[0].decode("utf-8", errors="replace")
    )
    return E131Packet(
        cid=bytes(datagram[22:38]),
        source_name=name,
        priority=priority,
        universe=universe,
        sequence=datagram[111],
        terminated=bool(options & _OPTION_TERMINATED),
        data=memoryview(datagram)[126 : 125 + count],
    )
