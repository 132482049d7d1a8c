"""Build DDP datagrams by hand from the protocol (www.3waylabs.com/ddp) for tests and benches."""

from __future__ import annotations

import struct

__all__ = ["DdpStatusAnswerer", "ddp_frame", "ddp_packet"]

_HEADER = struct.Struct(">BBBBIH")  # flags, sequence, data type, destination, offset, length
VERSION_1 = 0x40
PUSH = 0x01
TIMECODE = 0x10
RGB24 = 0x0B
DEFAULT_OUTPUT = 1


def ddp_packet(
    data: bytes,
    *,
    offset: int = 0,
    push: bool = True,
    sequence: int = 1,
    flags: int | None = None,
    data_type: int = RGB24,
    destination: int = DEFAULT_OUTPUT,
    length: int | None = None,
    timecode: int | None = None,
) -> bytes:
    if flags is None:
        flags = VERSION_1 | (PUSH if push else 0) | (TIMECODE if timecode is not None else 0)
    header = _HEADER.pack(
        flags,
        sequence & 0x0F,
        data_type,
        destination,
        offset,
        len(data) if length is None else length,
    )
    if timecode is not None:
        header += struct.pack(">I", timecode)
    return header + data


def ddp_frame(pixels: bytes, *, max_data: int = 1440, sequence: int = 1) -> list[bytes]:
    """One frame split in packets of at most max_data bytes; PUSH on the last one only."""
    chunks = [pixels[i : i + max_data] for i in range(0, len(pixels), max_data)] or [b""]
    return [
        ddp_packet(chunk, offset=i * max_data, push=i == len(chunks) - 1, sequence=sequence)
        for i, chunk in enumerate(chunks)
    ]


class DdpStatusAnswerer:
    """A DDP receiver on 127.0.0.1 that answers status queries (flags QUERY, destination 251)
    with a REPLY carrying a small JSON status, as a receiver that implements them does."""

    def __init__(self) -> None:
        import socket
        import threading

        self.queries = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ddp-status", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self._sock.recvfrom(1500)
            except TimeoutError:
                continue
            flags, _seq, _type, destination, _offset, _length = _HEADER.unpack_from(data)
            if flags & 0x02 and destination == 251:
                self.queries += 1
                body = b'{"status": {"update": "ok"}}'
                self._sock.sendto(
                    _HEADER.pack(VERSION_1 | 0x04, 0, 0, 251, 0, len(body)) + body, sender
                )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()
