"""The frame pacer's own process: sends each prepared frame's datagrams at the frame's due time.

Run as `python -I -S pacer_process.py <fd> <priority>` by `pacer.FramePacer`, with `<fd>` one end
of a SOCK_SEQPACKET pair. It imports the standard library only (no site-packages, no ledgrab), so
it costs a bare interpreter; it never takes the server's interpreter lock, which is the point.
It uses the C modules under `socket` and `struct` directly: their Python wrappers import enum,
selectors and more, 1.1 MB of private memory that a process this small would not otherwise have.

Messages in (records; one datagram of the pair may carry several F records):
  O slot + an SCM_RIGHTS descriptor   send this slot's frames on this (connected) socket
  F slot due count len*count payloads  a frame: send its payloads at `due` (CLOCK_MONOTONIC s; a
                                       due in the past means now). A newer frame for a slot
                                       replaces one still waiting (newest wins, counted)
  C slot                               send what waits for the slot, then forget the slot
Messages out:
  E slot text                          a send failed (ICMP unreachable, buffer full ...)
  D slot count                         frames replaced before they went out
The process ends when the other end closes (the server stopped or died).
"""

import _socket
import _struct
import os
import select
import sys
import time

HEAD = _struct.Struct("<cH")
FRAME = _struct.Struct("<cHdH")
COUNT = _struct.Struct("<I")
FD = _struct.Struct("<i")
MAX_MESSAGE = 1 << 17


class Pacer:
    """Slots (socket, waiting frame) and the loop that serves them; `serve()` returns at EOF."""

    def __init__(self, channel: _socket.socket) -> None:
        self.channel = channel
        self.sockets: dict[int, _socket.socket] = {}
        self.waiting: dict[int, tuple[float, list[bytes]]] = {}
        self._buffer = bytearray(MAX_MESSAGE)
        self._view = memoryview(self._buffer)
        self._fd_space = _socket.CMSG_SPACE(4)

    def serve(self) -> None:
        # select() takes its timeout in microseconds (poll() and epoll in whole milliseconds),
        # so one call waits both for the next message and for the next due time; it reads one
        # message per call, so a wake costs no failed read.
        channel, waiting = [self.channel], self.waiting
        while True:
            wait = None
            if waiting:
                wait = min(due for due, _ in waiting.values()) - time.monotonic()
            ready = (wait is None or wait > 0) and select.select(channel, [], [], wait)[0]
            if ready and not self._take_message():
                return
            if waiting:
                self._send_due(time.monotonic())

    def _take_message(self) -> bool:
        """One message from the channel; False at EOF."""
        try:
            size, ancdata, _, _ = self.channel.recvmsg_into([self._buffer], self._fd_space)
        except ConnectionResetError:
            return False
        if not size:
            return False
        self._handle(self._view[:size], ancdata)
        return True

    def _handle(self, data: memoryview, ancdata: list) -> None:
        kind, slot = HEAD.unpack_from(data)
        if kind == b"O":
            for level, type_, fds in ancdata:
                if level == _socket.SOL_SOCKET and type_ == _socket.SCM_RIGHTS:
                    self._forget(slot)
                    self.sockets[slot] = _socket.socket(fileno=FD.unpack_from(fds)[0])
        elif kind == b"C":
            frame = self.waiting.pop(slot, None)
            if frame is not None:
                self._send(slot, frame[1])
            self._forget(slot)
        else:
            offset = 0
            while offset < len(data):
                offset = self._take_frame(data, offset)

    def _take_frame(self, data: memoryview, offset: int) -> int:
        """Queue the F record at `offset`; returns where the next one starts."""
        _, slot, due, count = FRAME.unpack_from(data, offset)
        offset += FRAME.size
        lengths = _struct.unpack_from(f"<{count}H", data, offset)
        offset += 2 * count
        payloads = []
        for length in lengths:
            payloads.append(bytes(data[offset : offset + length]))
            offset += length
        if self.waiting.pop(slot, None) is not None:
            self._note(b"D", slot, COUNT.pack(1))
        self.waiting[slot] = (due, payloads)
        return offset

    def _send_due(self, now: float) -> None:
        for slot, (due, payloads) in list(self.waiting.items()):
            if due <= now:
                del self.waiting[slot]
                self._send(slot, payloads)

    def _send(self, slot: int, payloads: list[bytes]) -> None:
        sock = self.sockets.get(slot)
        if sock is None:
            return
        for payload in payloads:
            try:
                sock.send(payload)
            except OSError as exc:
                self._note(b"E", slot, f"{type(exc).__name__}: {exc}".encode()[:200])
                return

    def _forget(self, slot: int) -> None:
        sock = self.sockets.pop(slot, None)
        if sock is not None:
            sock.close()

    def _note(self, kind: bytes, slot: int, body: bytes) -> None:
        # A server that does not read its notes loses some; the frames are what must go out.
        try:  # noqa: SIM105 (contextlib is one of the imports this process goes without)
            self.channel.send(HEAD.pack(kind, slot) + body, _socket.MSG_DONTWAIT)
        except OSError:
            pass


def main(argv: list[str]) -> None:
    fd, priority = int(argv[1]), int(argv[2])
    if priority:
        try:  # noqa: SIM105
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        except OSError:
            pass  # it runs at the normal policy; the server's log already says how to grant it
    # The server's number for it may be past select()'s FD_SETSIZE; here the lowest are free.
    low = os.dup(fd)
    os.close(fd)
    channel = _socket.socket(fileno=low)
    Pacer(channel).serve()


if __name__ == "__main__":
    main(sys.argv)
