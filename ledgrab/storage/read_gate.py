"""ReadGate: reads count themselves in and out so a file swap can wait until none is in flight."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ReadGate"]


class ReadGate:
    """`with gate.reading():` around each use of the file; `pause()`/`resume()` around a swap.

    `generation` grows at each pause, so a thread that caches a connection knows it is stale.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._paused = False
        self.generation = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def enter(self) -> None:
        """Count a read in (waits while a swap is under way); `leave()` counts it out, from
        any thread."""
        with self._cond:
            while self._paused:
                self._cond.wait()
            self._active += 1

    def leave(self) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify_all()

    def pause(self) -> None:
        """Block new reads and wait for the ones in flight to finish."""
        with self._cond:
            self._paused = True
            while self._active:
                self._cond.wait()
            self.generation += 1

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()
