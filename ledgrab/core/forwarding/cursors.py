"""Forwarder cursors ride on commits that happen anyway: a batch source that never asks for a
commit of its own (due_at is always None), so an idle server writes nothing for them."""

from __future__ import annotations

import threading
from typing import Any

from ledgrab.storage.database import Database

__all__ = ["CURSORS_KEY", "CursorStore"]

CURSORS_KEY = "activity_forward_cursors"


class CursorStore:
    """Last delivered seq per forwarder name. After a crash a forwarder resumes from the last
    committed value: what it sent after that is sent again (at least once, never lost)."""

    def __init__(self, stored: dict[str, int]) -> None:
        self._lock = threading.Lock()
        self._values = dict(stored)
        self._written = dict(stored)

    def replace(self, stored: dict[str, int]) -> None:
        """What the database holds now (a restore brought another file)."""
        with self._lock:
            self._values = dict(stored)
            self._written = dict(stored)

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
            values = dict(self._values)
        Database.put_setting(conn, CURSORS_KEY, values)
        return values

    def committed(self, token: dict[str, int]) -> None:
        with self._lock:
            self._written = token

    def failed(self, token: dict[str, int], error: BaseException) -> None:
        pass  # still differs from _written: the next commit carries it
