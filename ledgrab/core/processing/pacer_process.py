"""The frame pacer's own process: sends each prepared frame's datagrams at the frame's due time.

Run as `python -I -S pacer_process.py <fd> <priority>` by `pacer.FramePacer`, with `<fd>` one end
of a SOCK_SEQPACKET pair. It imports the standard library only (no site-packages, no ledgrab), so
it costs a bare interpreter; it never takes the server's interpreter lock, which is the point.

Messages in (one per datagram of the pair):
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

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import sys
import time

HEAD = struct.Struct("<cH")
FRAME = struct.Struct("<cHdH")
COUNT = struct.Struct("<I")
MAX_MESSAGE = 1 << 17
# poll() waits in whole milliseconds; it wakes this long before a due time and a precise sleep
# (clock_nanosleep) covers the rest.
_COARSE_S = 0.0015


class Pacer:
    """Slots (socket, waiting frame) and the loop that serves them; `serve()` returns at EOF."""

    def __init__(self, channel: socket.socket) -> None:
        self.channel = channel
        self.sockets: dict[int, socket.socket] = {}
        self.waiting: dict[int, tuple[float, list[bytes]]] = {}

    def serve(self) -> None:
        poller = select.poll()
        poller.register(self.channel, select.POLLIN)
        while True:
            wait = self._next_wait()
            if wait is None or wait > _COARSE_S:
                timeout = -1 if wait is None else (wait - _COARSE_S) * 1000
                if poller.poll(timeout) and not self._take_messages():
                    return
                continue
            if wait > 0:
                time.sleep(wait)
            self._send_due(time.monotonic())

    def _next_wait(self) -> float | None:
        if not self.waiting:
            return None
        return min(due for due, _ in self.waiting.values()) - time.monotonic()

    def _take_messages(self) -> bool:
        """Everything queued on the channel; False at EOF."""
        while True:
            try:
                data, ancdata, _, _ = self.channel.recvmsg(
                    MAX_MESSAGE, socket.CMSG_SPACE(4), socket.MSG_DONTWAIT
                )
            except BlockingIOError:
                return True
            except ConnectionResetError:
                return False
            if not data:
                return False
            self._handle(data, ancdata)

    def _handle(self, data: bytes, ancdata: list) -> None:
        kind, slot = HEAD.unpack_from(data)
        if kind == b"F":
            _, _, due, count = FRAME.unpack_from(data)
            lengths = struct.unpack_from(f"<{count}H", data, FRAME.size)
            offset, payloads = FRAME.size + 2 * count, []
            for length in lengths:
                payloads.append(data[offset : offset + length])
                offset += length
            if self.waiting.pop(slot, None) is not None:
                self._note(b"D", slot, COUNT.pack(1))
            self.waiting[slot] = (due, payloads)
        elif kind == b"O":
            for level, kind_, fds in ancdata:
                if level == socket.SOL_SOCKET and kind_ == socket.SCM_RIGHTS:
                    fd = struct.unpack_from("<i", fds)[0]
                    self._forget(slot)
                    self.sockets[slot] = socket.socket(fileno=fd)
        elif kind == b"C":
            frame = self.waiting.pop(slot, None)
            if frame is not None:
                self._send(slot, frame[1])
            self._forget(slot)

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
        with contextlib.suppress(OSError):
            self.channel.send(HEAD.pack(kind, slot) + body, socket.MSG_DONTWAIT)


def main(argv: list[str]) -> None:
    fd, priority = int(argv[1]), int(argv[2])
    if priority:
        # Refused, it runs at the normal policy; the server's log already says how to grant it.
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    channel = socket.socket(fileno=fd)
    Pacer(channel).serve()


if __name__ == "__main__":
    main(sys.argv)
