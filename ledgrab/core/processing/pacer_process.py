"""The frame pacer's own process: sends each prepared frame's datagrams at the frame's due time.

Run as `python -I -S pacer_process.py <channel> <bell> <priority>` by `pacer.FramePacer`, with
`<channel>` one end of a SOCK_SEQPACKET pair and `<bell>` the read end of a pipe. It imports the
standard library only (no site-packages, no ledgrab), so it costs a bare interpreter; it never
takes the server's interpreter lock, which is the point. It uses the C modules under `socket`
and `struct` directly: their Python wrappers import enum, selectors and more, 1.1 MB of private
memory that a process this small would not otherwise have.

One wake per tick: a frame made for the grid says when the slot's next one is due, and the
process sleeps until the earliest such time, reading the frames that came meanwhile when it
wakes. It watches the channel itself only while it expects nothing, or while a frame it expected
is late; the server rings the bell for the rest (control messages, frames due now, frames at a
time it did not announce).

Messages in (records; one datagram of the pair may carry several F records):
  O slot + an SCM_RIGHTS descriptor   send this slot's frames on this (connected) socket
  F slot due next count len*count payloads
                                       a frame: send its payloads at `due` (CLOCK_MONOTONIC s; a
                                       due in the past means now); `next` is when the slot's
                                       next frame is due (0: not known). A newer frame for a
                                       slot replaces one still waiting (newest wins, counted)
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
FRAME = _struct.Struct("<cHddH")
COUNT = _struct.Struct("<I")
FD = _struct.Struct("<i")
MAX_MESSAGE = 1 << 17
# An expected frame this late is no longer waited for (its target paused without closing).
_GIVE_UP_WAITING_S = 1.0


class Pacer:
    """Slots (socket, waiting frame) and the loop that serves them; `serve()` returns at EOF."""

    def __init__(self, channel: _socket.socket, bell: int) -> None:
        self.channel = channel
        self.bell = bell
        self.sockets: dict[int, _socket.socket] = {}
        self.waiting: dict[int, tuple[float, list[bytes]]] = {}
        self.expected: dict[int, float] = {}
        self._buffer = bytearray(MAX_MESSAGE)
        self._view = memoryview(self._buffer)
        self._fd_space = _socket.CMSG_SPACE(4)

    def serve(self) -> None:
        # select() takes its timeout in microseconds (poll() and epoll in whole milliseconds).
        bell_only, both = [self.bell], [self.bell, self.channel]
        while True:
            wake, watch_channel = self._plan(time.monotonic())
            wait = None if wake is None else wake - time.monotonic()
            if wait is None or wait > 0:
                ready = select.select(both if watch_channel else bell_only, [], [], wait)[0]
                if self.bell in ready:
                    os.read(self.bell, 512)
            if not self._take_messages():
                return
            if self.waiting:
                self._send_due(time.monotonic())

    def _plan(self, now: float) -> tuple[float | None, bool]:
        """When to wake next, and whether to watch the channel until then: while nothing is
        expected, or while an expected frame is late."""
        wake, late = None, False
        for due, _ in self.waiting.values():
            wake = due if wake is None or due < wake else wake
        for slot, due in list(self.expected.items()):
            if due > now:
                wake = due if wake is None or due < wake else wake
            elif now - due > _GIVE_UP_WAITING_S:
                del self.expected[slot]
            elif slot not in self.waiting:
                late = True
        return wake, late or not self.expected

    def _take_messages(self) -> bool:
        """What the channel holds; False at EOF."""
        while True:
            try:
                size, ancdata, _, _ = self.channel.recvmsg_into(
                    [self._buffer], self._fd_space, _socket.MSG_DONTWAIT
                )
            except BlockingIOError:
                return True
            except ConnectionResetError:
                return False
            if not size:
                return False
            self._handle(self._view[:size], ancdata)

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
            self.expected.pop(slot, None)
            self._forget(slot)
        else:
            offset = 0
            while offset < len(data):
                offset = self._take_frame(data, offset)

    def _take_frame(self, data: memoryview, offset: int) -> int:
        """Queue the F record at `offset`; returns where the next one starts."""
        _, slot, due, next_due, count = FRAME.unpack_from(data, offset)
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
        if next_due > 0:
            self.expected[slot] = next_due
        else:
            self.expected.pop(slot, None)
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
    fd, bell, priority = int(argv[1]), int(argv[2]), int(argv[3])
    if priority:
        try:  # noqa: SIM105
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        except OSError:
            pass  # it runs at the normal policy; the server's log already says how to grant it
    # The server's numbers for them may be past select()'s FD_SETSIZE; here the lowest are free.
    channel, low_bell = os.dup(fd), os.dup(bell)
    os.close(fd)
    os.close(bell)
    Pacer(_socket.socket(fileno=channel), low_bell).serve()


if __name__ == "__main__":
    main(sys.argv)
