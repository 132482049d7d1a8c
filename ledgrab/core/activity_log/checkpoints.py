"""Checkpointer: signs the chain head on commits that happen anyway, at most once per commit and
at least once per `checkpoint_interval_s` while entries arrive."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from ledgrab.core.activity_log.chain_setup import register_device_key
from ledgrab.core.activity_log.signing import DeviceKey
from ledgrab.storage import activity_chain as chain

__all__ = ["Checkpointer"]


class Checkpointer:
    """Called by the recorder inside the transaction that inserts a batch: no extra commit, no
    extra sync. An idle log gets no checkpoint (no commit), so the newest entries wait at most
    one interval, or until shutdown's last commit, to be signed."""

    def __init__(
        self,
        key: DeviceKey,
        interval_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.interval_s = interval_s
        self._clock, self._wall = clock, wall_clock
        self._last_at = float("-inf")
        self._written_at: float | None = None
        self._force = False
        self._known_conn: sqlite3.Connection | None = None

    def seal_next(self) -> None:
        """The next commit carrying entries signs its head whatever the interval (shutdown)."""
        self._force = True

    def after_append(self, conn: sqlite3.Connection, seq: int, value: bytes) -> None:
        if conn is not self._known_conn:
            # A file this key has not seen in this run (the start, or a restore swapped it in):
            # record the key in it and sign the anchors its migration left unsigned.
            register_device_key(conn, self.key, int(self._wall() * 1_000_000))
            self._known_conn = conn
            self._force = True  # and sign the new file's head at once
        now = self._clock()
        if not self._force and now - self._last_at < self.interval_s:
            return
        ts_us = int(self._wall() * 1_000_000)
        anchor = chain.newest_anchor(conn)
        body = chain.checkpoint_body(
            self.key.origin, seq, value, chain.note_time(ts_us), anchor and (anchor[0], anchor[1])
        )
        chain.store_checkpoint(conn, seq, value, ts_us, self.key.sign_note(body))
        self._written_at = now

    def committed(self) -> None:
        if self._written_at is not None:
            self._last_at, self._written_at, self._force = self._written_at, None, False

    def failed(self) -> None:
        self._written_at = None
        self._known_conn = None  # the registration was rolled back with the batch
