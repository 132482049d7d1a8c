"""Frame deadlines kept to the microsecond: callbacks at absolute `time.monotonic()` times, woken
by one Linux timerfd that the event loop watches.

The loop's own timers are not precise enough for frames: uvloop counts time in whole milliseconds
from the start of its current iteration, so a 60 fps deadline fired up to 1.2 ms early or 4 ms
late (p99) on the benchmark machine, where a timerfd fired 0.1-0.7 ms late (p50-p99). Where there
is no timerfd (not Linux) the loop's call_at is used.
"""

from __future__ import annotations

import asyncio
import ctypes
import heapq
import itertools
import os
import time
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["FrameTimer", "frame_timer"]

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.timerfd_create, libc.timerfd_settime  # noqa: B018 (present on Linux only)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


class _Handle:
    """What call_at returns: cancel() keeps the callback from running."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FrameTimer:
    """One loop's deadlines in a heap; the timerfd is armed for the earliest. The fd is opened on
    the first deadline and closed when none is left, so an idle engine holds nothing."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop_ref = weakref.ref(loop)  # the registry below is keyed weakly by the loop
        self._heap: list[tuple[float, int, _Handle]] = []
        self._order = itertools.count()
        self._fd: int | None = None
        self._closer: weakref.finalize | None = None
        self._armed_for: float | None = None

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_ref()
        if loop is None:
            raise RuntimeError("the event loop of this frame timer is gone")
        return loop

    def call_at(self, when: float, callback: Callable[[], None]) -> Any:
        """Run `callback()` on the loop at monotonic time `when`; returns a handle to cancel."""
        if _LIBC is None:
            return self._loop.call_at(self._loop.time() + (when - time.monotonic()), callback)
        handle = _Handle(callback)
        heapq.heappush(self._heap, (when, next(self._order), handle))
        if self._armed_for is None or when < self._armed_for:
            self._arm(when)
        return handle

    def _arm(self, when: float) -> None:
        if self._fd is None:
            fd = _LIBC.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
            if fd < 0:
                raise OSError(ctypes.get_errno(), "timerfd_create failed")
            self._fd = fd
            self._loop.add_reader(fd, self._fire)
            # A loop dropped with deadlines still pending must not keep the descriptor.
            self._closer = weakref.finalize(self, os.close, fd)
        # A time already past fires at once; zero would disarm the timer, so never pass zero.
        seconds, fraction = divmod(max(when, 1e-9), 1.0)
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(int(seconds), max(1, int(fraction * 1e9))))
        if _LIBC.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) < 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self._armed_for = when

    def _fire(self) -> None:
        try:
            os.read(self._fd, 8)  # type: ignore[arg-type]
        except BlockingIOError:
            return  # re-armed for later after the kernel had queued the earlier expiry
        self._armed_for = None
        now = time.monotonic()
        due = []
        while self._heap and self._heap[0][0] <= now:
            handle = heapq.heappop(self._heap)[2]
            if not handle.cancelled:
                due.append(handle)
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        if self._heap:
            self._arm(self._heap[0][0])
        for handle in due:
            if handle.cancelled:  # an earlier callback of this round cancelled it
                continue
            try:
                handle.callback()
            except Exception as exc:  # as the loop's own timers do: report, keep serving
                self._loop.call_exception_handler(
                    {"message": "frame timer callback failed", "exception": exc}
                )
        if not self._heap and self._armed_for is None:
            self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            self._loop.remove_reader(fd)
            if self._closer is not None:
                self._closer()  # closes the descriptor, once


_timers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FrameTimer] = (
    weakref.WeakKeyDictionary()
)


def frame_timer(loop: asyncio.AbstractEventLoop) -> FrameTimer:
    """The loop's FrameTimer (one per loop: targets due at the same time wake together)."""
    timer = _timers.get(loop)
    if timer is None:
        timer = _timers[loop] = FrameTimer(loop)
    return timer
