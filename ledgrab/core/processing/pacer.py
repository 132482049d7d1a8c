"""FramePacer: network frames sent at their due time by a small process of their own.

The frame thread renders a frame a little ahead of its grid point (`lead_s`) and hands the
datagrams over; the pacer process (pacer_process.py, a bare interpreter) sends them when they
are due. A frame thread that waits for the interpreter lock, because a server thread holding it
is off the CPU, then delays only the hand-over, not the frame: the LEDs see it on time as long
as the wait is shorter than the lead. Capture frames are handed over due at once.

The process starts with the first slot (a device's socket) and is stopped `idle_stop_s` after
the last slot closes, so an engine with no network target holds none. If it dies, `post()`
raises PacerGone and the target reconnects, which starts a new one; one that keeps dying is
given up (`enabled` turns false) and the drivers send their frames themselves.

On demand (the default), drivers send grid frames themselves while the frame loop keeps time,
and hand them over only while it is being held up (`wanted()`): a quiet machine pays for no
second process, a busy one gets its frames on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from ledgrab.core.processing.pacer_process import COUNT, FRAME, HEAD, MAX_MESSAGE

__all__ = ["FramePacer", "PacerGone", "PacerSlot"]

log = logging.getLogger(__name__)

_PROGRAM = Path(__file__).with_name("pacer_process.py")
# The pair's send buffer bounds what waits for the process: a frame that does not fit is dropped.
_CHANNEL_BUFFER = 256 * 1024
# A frame due within this of now rings the bell: the process may be asleep until later.
_RING_MARGIN_S = 0.0005
# A process that dies this many times within the window (a broken install, a filter that
# kills it) is not started again: the drivers send their frames themselves.
_LOSSES_TO_GIVE_UP = 3
_LOSS_WINDOW_S = 60
# The process ends within milliseconds of its EOF; past this it is killed.
_EXIT_WAIT_S = 2.0
# On demand: a grid frame handed over later than _LATE_S after its grid point is a held-up
# tick; _LATE_TICKS of them within _LATE_WINDOW_S start pacing, which lasts until none has
# come for `hold_s`. One such tick is no sign of load: on a quiet 2-core machine about one
# frame in a thousand sent by the frame thread arrives that late; a loaded one has several a
# second (docs/engine.md "Pacing on demand").
_LATE_S = 0.001
_LATE_TICKS = 3
_LATE_WINDOW_S = 10.0


class PacerGone(OSError):
    """The pacer process is not there any more; the slot's device has to be opened again."""


class PacerSlot:
    """One device's socket in the pacer. `on_note(kind, body)` gets what happened to its frames
    out of sight: "error" with the text of a failed send, "dropped" with a count of frames that
    did not go out (replaced by a newer one, or no room in the channel)."""

    __slots__ = ("announced", "generation", "number", "on_note")

    def __init__(self, generation: int, number: int, on_note: Callable[[str, str | int], None]):
        self.generation, self.number, self.on_note = generation, number, on_note
        self.announced = 0.0  # when the process expects this slot's next frame (0: it does not)


class FramePacer:
    """Owned by the engine, used on the frame loop only; `lead_s` is how far ahead frames for the
    grid are rendered (0 turns pacing off: the drivers send on the frame thread); `on_demand`
    paces grid frames only while the frame loop is held up (`wanted()`), `hold_s` past the last
    late tick."""

    # A device that reconnects opens a slot again within its backoff: `idle_stop_s` keeps the
    # process that long after the last slot closed, rather than start one per try.
    def __init__(
        self,
        *,
        lead_s: float,
        priority: int = 0,
        idle_stop_s: float = 10.0,
        program: Path = _PROGRAM,
        on_demand: bool = False,
        hold_s: float = 30.0,
    ) -> None:
        self.lead_s = lead_s
        self.on_demand = on_demand
        self._hold_s = hold_s
        self._late_ticks: deque[float] = deque(maxlen=_LATE_TICKS)
        self._last_grid = 0.0
        self._paced_until = 0.0
        self._paced_since: float | None = None
        self._paced_s = 0.0
        self._engagements = 0
        self._program = program
        self._losses: deque[float] = deque(maxlen=_LOSSES_TO_GIVE_UP)
        self.given_up = False
        self._losses_total = 0
        self._given_up_reason: str | None = None
        self._idle_stop_s = idle_stop_s
        self._priority = priority
        self._process: subprocess.Popen | None = None
        self._channel: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: dict[int, PacerSlot] = {}
        self._generation = 0
        self._next_number = 0
        self._idle_stop: asyncio.TimerHandle | None = None
        self._exiting: list[subprocess.Popen] = []
        self._outbox: list[tuple[PacerSlot, bytes]] = []
        self._outbox_bytes = 0
        self._flush_soon: asyncio.Handle | None = None
        self._bell: int | None = None  # the write end of the process's bell pipe
        self._ring = False
        self._starting = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        """Whether drivers should hand frames over: a lead is set and the process has not died
        `_LOSSES_TO_GIVE_UP` times within `_LOSS_WINDOW_S` (then they send them themselves until
        the server restarts, rather than reconnect in a loop)."""
        return self.lead_s > 0 and not self.given_up

    def wanted(self, grid: float, now: float) -> bool:
        """Whether a driver should hand over its frame for grid point `grid` (time.monotonic()),
        made at `now`: always, or on demand while recent ticks came late (see `_LATE_S`)."""
        if not self.on_demand:
            return True
        if self._paced_since is not None and now >= self._paced_until:
            self._paced_s += self._paced_until - self._paced_since
            self._paced_since = None
            log.info("frame loop on time again: network frames go from the frame thread")
        first, self._last_grid = grid != self._last_grid, grid
        # Only a grid point's first frame counts: the targets after it in the same tick wait
        # for its render, not for the machine, and one late tick is one however many targets.
        if first and now - grid > _LATE_S:
            self._late_ticks.append(now)
            if self._paced_since is not None:
                self._paced_until = now + self._hold_s
            elif (
                len(self._late_ticks) == _LATE_TICKS and now - self._late_ticks[0] <= _LATE_WINDOW_S
            ):
                self._paced_since, self._paced_until = now, now + self._hold_s
                self._engagements += 1
                log.info("frame loop held up: network frames go through the frame pacer")
        return self._paced_since is not None

    def health(self) -> tuple[str, str | None, dict[str, object]]:
        """/health's view (state, reason, details): degraded once given up, since frames then
        leave from the frame thread and may again be late under load."""
        paced_s = self._paced_s
        if self._paced_since is not None:
            paced_s += min(time.monotonic(), self._paced_until) - self._paced_since
        details: dict[str, object] = {
            "send_ahead_ms": round(self.lead_s * 1000, 3),
            "pacing": "on-demand" if self.on_demand else "always",
            "running": self._process is not None,
            "losses": self._losses_total,
            "engagements": self._engagements if self.on_demand else None,
            "paced_s": round(paced_s, 1) if self.on_demand else None,
        }
        if self.given_up:
            return "degraded", self._given_up_reason, details
        return "ok", None, details

    @property
    def pid(self) -> int | None:
        """The process's pid while it runs (for tests and benchmarks)."""
        return None if self._process is None else self._process.pid

    async def open(
        self, sock: socket.socket, on_note: Callable[[str, str | int], None]
    ) -> PacerSlot:
        """Give the process a duplicate of `sock` (connected, non-blocking); frames posted for
        the returned slot go out on it."""
        if self._idle_stop is not None:
            self._idle_stop.cancel()
            self._idle_stop = None
        async with self._starting:  # devices that open together share one process
            if self._channel is None:
                await self._start()
        assert self._channel is not None
        self._next_number = (self._next_number + 1) % 0x10000
        slot = PacerSlot(self._generation, self._next_number, on_note)
        self._flush()
        try:
            self._channel.sendmsg(
                [HEAD.pack(b"O", slot.number)],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("<i", sock.fileno()))],
            )
        except OSError as exc:
            self._lost(f"cannot hand a socket over: {exc}")
            raise PacerGone("the frame pacer process is gone") from None
        self._ring_bell()
        self._slots[slot.number] = slot
        return slot

    def post(
        self, slot: PacerSlot, payloads: list[bytes], due: float, next_due: float = 0.0
    ) -> None:
        """Hand a frame over, to go out at `due` (time.monotonic(); 0 = now); `next_due` is when
        the slot's next frame will be due, if the caller keeps a grid. PacerGone when the
        process is not there; a frame the process had no room for is noted "dropped"."""
        if self._channel is None or slot.generation != self._generation:
            raise PacerGone("the frame pacer process is gone")
        record = b"".join(
            (
                FRAME.pack(b"F", slot.number, due, next_due, len(payloads)),
                struct.pack(f"<{len(payloads)}H", *map(len, payloads)),
                *payloads,
            )
        )
        if len(record) > MAX_MESSAGE:
            raise ValueError(f"a frame of {len(record)} bytes is more than the pacer takes")
        if self._outbox_bytes + len(record) > MAX_MESSAGE:
            self._flush()
        # The process sleeps until the time it was told; a frame due earlier, or now, rings.
        if due != slot.announced or due <= time.monotonic() + _RING_MARGIN_S:
            self._ring = True
        slot.announced = next_due
        self._outbox.append((slot, record))
        self._outbox_bytes += len(record)
        if self._flush_soon is None:
            # Targets due together post in one turn of the loop: one message wakes the process
            # once for all of them, where one each woke it once per target.
            self._flush_soon = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        if self._flush_soon is not None:
            self._flush_soon.cancel()
            self._flush_soon = None
        outbox, self._outbox, self._outbox_bytes = self._outbox, [], 0
        if not outbox or self._channel is None:
            return
        try:
            self._channel.send(b"".join(record for _, record in outbox), socket.MSG_DONTWAIT)
        except BlockingIOError:
            for slot, _ in outbox:
                slot.on_note("dropped", 1)
                slot.announced = 0.0
        except OSError as exc:
            self._lost(f"cannot hand frames over: {exc}")
        if self._ring:
            self._ring_bell()

    def _ring_bell(self) -> None:
        """Wake the process now (after what it must read is in the channel)."""
        self._ring = False
        if self._bell is not None:
            with contextlib.suppress(OSError):  # full: it is ringing already
                os.write(self._bell, b"!")

    def close(self, slot: PacerSlot) -> None:
        """The process sends what still waits for the slot, then forgets it; `idle_stop_s`
        after the last slot closed, the process is stopped."""
        if slot.generation != self._generation or self._slots.pop(slot.number, None) is None:
            return
        self._flush()
        with contextlib.suppress(OSError):
            assert self._channel is not None
            self._channel.send(HEAD.pack(b"C", slot.number))
        self._ring_bell()
        if not self._slots and self._loop is not None:
            self._idle_stop = self._loop.call_later(self._idle_stop_s, self._stop)

    async def aclose(self) -> None:
        """Stop the process now and wait for it to end (the engine's shutdown)."""
        self._stop()
        exiting, self._exiting = self._exiting, []
        for process in exiting:
            try:
                await asyncio.to_thread(process.wait, _EXIT_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _CHANNEL_BUFFER)
        bell_read, bell = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        command = [sys.executable, "-I", "-S", str(self._program), str(theirs.fileno())]
        command += [str(bell_read), str(self._priority)]
        with theirs:
            try:
                # Popen waits for the exec; off the loop, so the frames already running go on.
                process = await asyncio.to_thread(
                    subprocess.Popen,
                    command,
                    pass_fds=(theirs.fileno(), bell_read),
                    stdin=subprocess.DEVNULL,
                )
            except OSError as exc:
                ours.close()
                os.close(bell)
                why = f"cannot start the frame pacer process ({exc})"
                self._count_loss(why, "frames go unpaced")
                raise PacerGone(why) from None
            finally:
                os.close(bell_read)
        ours.setblocking(False)
        self._process, self._channel, self._loop, self._bell = process, ours, loop, bell
        self._generation += 1
        loop.add_reader(ours.fileno(), self._read_notes)
        log.info("frame pacer process %d started", process.pid)

    def _read_notes(self) -> None:
        channel = self._channel
        while channel is not None:
            try:
                data = channel.recv(512)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._lost("it closed its end")
                return
            kind, number = HEAD.unpack_from(data)
            slot = self._slots.get(number)
            if slot is None:
                continue
            if kind == b"E":
                slot.on_note("error", data[HEAD.size :].decode(errors="replace"))
            elif kind == b"D":
                slot.on_note("dropped", COUNT.unpack_from(data, HEAD.size)[0])

    def _lost(self, why: str) -> None:
        if self._channel is not None:
            self._count_loss(f"the frame pacer process is gone ({why})", "targets reconnect")
        self._slots.clear()
        self._stop()

    def _count_loss(self, what: str, meanwhile: str) -> None:
        """One more death or failed start; the `_LOSSES_TO_GIVE_UP`th within the window gives
        the process up."""
        now = time.monotonic()
        self._losses.append(now)
        self._losses_total += 1
        if len(self._losses) == self._losses.maxlen and now - self._losses[0] < _LOSS_WINDOW_S:
            self.given_up = True
            self._given_up_reason = (
                f"{what}, {len(self._losses)} times in {_LOSS_WINDOW_S} s: network frames go "
                "from the frame thread until LedGrab restarts"
            )
            log.error("%s", self._given_up_reason)
        else:
            log.warning("%s; %s", what, meanwhile)

    def _stop(self) -> None:
        """Close the channel (the process ends at EOF) and reap it later, off the frame path."""
        if self._idle_stop is not None:
            self._idle_stop.cancel()
            self._idle_stop = None
        channel, process, loop = self._channel, self._process, self._loop
        self._channel = self._process = None
        self._generation += 1
        if self._bell is not None:
            os.close(self._bell)
            self._bell = None
        if channel is not None:
            if loop is not None:
                loop.remove_reader(channel.fileno())
            channel.close()
        if process is not None:
            self._exiting.append(process)
            if loop is not None:
                loop.call_later(_EXIT_WAIT_S, _reap, self._exiting, loop)


def _reap(exiting: list[subprocess.Popen], loop: asyncio.AbstractEventLoop) -> None:
    """Collect the processes that ended; kill one still there after its EOF and a wait."""
    for process in list(exiting):
        if process.poll() is None:
            process.kill()
            with contextlib.suppress(RuntimeError):  # a closing loop: aclose() waits instead
                loop.call_later(_EXIT_WAIT_S, _reap, exiting, loop)
        else:
            exiting.remove(process)
