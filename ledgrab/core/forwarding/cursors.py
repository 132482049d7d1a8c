"""Forwarder cursors ride on commits that happen anyway: a batch source that never asks for a
commit of its own (due_at is always None), so an idle server writes nothing for them.

Flash: a moved cursor costs one page (4 KiB) in the commit that carries it, 28 % more bytes per
entry at 1 entry/s with 5 s commits (flash_writes.py). So it rides on at most one commit per
`min_interval_s` (and always on the last one, at a clean stop): after a crash a forwarder sends
at most that much again, which `seq` lets a collector drop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ledgrab.storage.database import Database

__all__ = ["CURSORS_KEY", "CursorStore"]

CURSORS_KEY = "activity_forward_cursors"


class CursorStore:
    """Last delivered seq per forwarder name. After a crash a forwarder resumes from the last
    committed value: what it sent after that is sent again (at least once, never lost)."""

    def __init__(
        self,
        stored: dict[str, int],
        min_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._values = dict(stored)
        self._written = dict(stored)
        self._min_interval, self._clock = min_interval_s, clock
        self._written_at: float | None = None
        self._final = False

    def write_with_next_commit(self) -> None:
        """The server stops: the closing commit carries the cursors, however recent the last."""
        with self._lock:
            self._final = True

    def replace(self, stored: dict[str, int]) -> None:
        """What the database holds now (a restore brought another file)."""
        with self._lock:
            self._values = dict(stored)
            self._written = dict(stored)
            self._written_at = None

    def get(self, name: str) -> int | None:
        with self._lock:
            return self._values.get(name)

    def set(self, name: str, seq: int) -> None:
        with self._lock:
            self._values[name] = seq

    def keep_only(self, names: set[str]) -> None:
        with self._lock:
            self._values = {k: v for k, v in self._values.items() if k in names}

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)

    # -- BatchSource (writer thread) ---------------------------------------------------------

    def due_at(self) -> float | None:
        return None

    def write_pending(self, conn: Any) -> dict[str, int] | None:
        with self._lock:
            if self._values == self._written:
                return None
            recent = self._written_at is not None and (
                self._clock() - self._written_at < self._min_interval
            )
            if recent and not self._final and self._values.keys() == self._written.keys():
                return None
            values = dict(self._values)
        Database.put_setting(conn, CURSORS_KEY, values)
        return values

    def committed(self, token: dict[str, int]) -> None:
        with self._lock:
            self._written = token
            self._written_at = self._clock()

    def failed(self, token: dict[str, int], error: BaseException) -> None:
        pass  # still differs from _written: the next commit carries it
