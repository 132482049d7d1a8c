"""UDP receivers for the frame benchmarks: the kernel's arrival time of each DDP frame."""

from __future__ import annotations

import selectors
import socket
import struct
import threading

__all__ = ["StampedReceivers"]

DDP_PUSH = 0x01
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; not exported by every Python
_TIMESPEC = struct.Struct("qq")


class StampedReceivers:
    """K UDP sockets served by one thread; keeps the kernel's arrival time of each PUSH packet."""

    def __init__(self, count: int) -> None:
        self.sockets: list[socket.socket] = []
        self.arrivals: list[list[float]] = [[] for _ in range(count)]
        self._selector = selectors.DefaultSelector()
        for index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, index)
            self.sockets.append(sock)
        self.recording = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-receivers", daemon=True)
        self._thread.start()

    @property
    def ports(self) -> list[int]:
        return [s.getsockname()[1] for s in self.sockets]

    def _run(self) -> None:
        space = socket.CMSG_SPACE(_TIMESPEC.size)
        while not self._stop.is_set():
            for key, _ in self._selector.select(0.1):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                while True:
                    try:
                        packet, ancillary, _, _ = sock.recvmsg(2048, space)
                    except BlockingIOError:
                        break
                    if not (self.recording and packet and packet[0] & DDP_PUSH):
                        continue
                    for level, kind, data in ancillary:
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                            seconds, nanos = _TIMESPEC.unpack(data[: _TIMESPEC.size])
                            self.arrivals[key.data].append(seconds + nanos / 1e9)

    def take(self) -> list[list[float]]:
        """The arrivals recorded so far, and start afresh."""
        taken, self.arrivals = self.arrivals, [[] for _ in self.arrivals]
        return taken

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()
