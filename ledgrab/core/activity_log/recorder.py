"""record() from any thread, never raising; entries ride the writer's commits as a BatchSource."""

from __future__ import annotations

import itertools
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from ledgrab.core.activity_log.checkpoints import Checkpointer
from ledgrab.core.activity_log.context import SYSTEM, current_actor
from ledgrab.core.activity_log.settings import ActivityLogSettings
from ledgrab.storage.activity_log import (
    ActivityLogEntry,
    ActivityLogRepository,
    Category,
    Severity,
    from_us,
)
from ledgrab.utils.plain_text import plural
from ledgrab.utils.system_clock import SystemClock

__all__ = [
    "CLOCK_KEY",
    "ActivityRecorder",
    "RecorderStatus",
    "get_module_recorder",
    "set_module_recorder",
]

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1000
MAX_FIELD_CHARS = 200
MAX_METADATA_BYTES = 4096
CLOCK_KEY = "clock"  # metadata key of the clock stamp (utils.system_clock.SystemClock.stamp)
_URGENT_SEVERITIES = frozenset({Severity.ERROR, Severity.CRITICAL})
# By value: calling an Enum class costs 0.6 µs, a dict lookup a tenth of that.
_CATEGORIES = {member.value: member for member in Category}
_SEVERITIES = {member.value: member for member in Severity}
# Control characters (C0, DEL, C1, line/paragraph separators) become spaces, so no message,
# name or CSV cell can start a second, forged line.
_CONTROL = {c: " " for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]}


_HAS_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(text: object, limit: int) -> str:
    value = text if type(text) is str else str(text)
    # Every control character is unprintable: the C check clears almost every text at once, and
    # only the rest is searched (and, rarely, translated: 10x the cost of the search).
    if not value.isprintable() and _HAS_CONTROL.search(value):
        value = value.translate(_CONTROL)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _optional(text: object | None) -> str | None:
    return None if text is None else _one_line(text, MAX_FIELD_CHARS)


class RecorderStatus(msgspec.Struct):
    state: str  # "ok" | "degraded"
    reason: str | None
    pending: int
    dropped_total: int
    written_total: int


class ActivityRecorder:
    """Entries wait in a bounded buffer until a commit carries them. A commit is due when the
    oldest entry has waited `commit_interval_s`, when `max_batch` entries wait, or (at most once
    per `immediate_gap_s`) when an error/critical/auth entry waits; any other commit (a config
    write) carries them too, and `Database.close()` flushes them."""

    def __init__(
        self,
        db: Any,
        bus: Any = None,
        settings: ActivityLogSettings | None = None,
        *,
        max_pending: int = 10_000,
        immediate_gap_s: float = 1.0,
        retry_min_s: float = 1.0,
        retry_max_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        checkpointer: Checkpointer | None = None,
        system_clock: SystemClock | None = None,
    ) -> None:
        self._db = db
        # Stamps each entry's metadata with the clock's state (`clock`: synced, boot, mono_us)
        # and is the wall clock then. None (tools, benchmarks): no stamp.
        self.system_clock = system_clock
        if system_clock is not None:
            wall_clock = lambda: system_clock.wall()  # noqa: E731 (looked up: tests swap it)
        # Signs checkpoints on the commits that carry entries; its key also signs the anchors
        # that clearing and retention leave. None (tools, benchmarks): unsigned anchors.
        self.checkpointer = checkpointer
        self._bus = bus
        self._max_pending = max_pending
        self._gap = immediate_gap_s
        self._retry_min, self._retry_max = retry_min_s, retry_max_s
        self._clock, self._wall = clock, wall_clock
        self.apply_settings(settings or ActivityLogSettings())
        # An RLock, not a Lock: it is held for a few deque operations only, never across SQL.
        self._lock = threading.RLock()
        # Rows waiting, and beside them the monotonic time each was recorded: two deques rather
        # than one of (row, time) pairs, one object fewer per entry for the collector to track
        # (gen-0 collections were most of record()'s p99, benchmarks/record_latency.py).
        self._pending: deque[tuple] = deque()
        self._pending_at: deque[float] = deque()
        self._urgent: deque[tuple[int, float]] = deque()  # (absolute index, time) of urgent rows
        self._head = 0  # absolute index of _pending[0]: entries ever removed from the front
        self._last_commit_at = float("-inf")
        self._retry_at: float | None = None
        self._backoff = retry_min_s
        self._ids = itertools.count(random.getrandbits(24))
        self.state = "ok"
        self.reason: str | None = None
        self.dropped_total = 0
        self._dropped_unreported = 0
        self.written_total = 0
        self.commits = 0
        self._last_ts_us = 0

    def continue_after(self, ts_us: int | None) -> None:
        """Start no earlier than the newest stored entry (called once at startup)."""
        if ts_us is not None:
            self._last_ts_us = max(self._last_ts_us, ts_us)

    def apply_settings(self, settings: ActivityLogSettings) -> None:
        self.settings = settings
        self._enabled = settings.enabled
        self._interval = settings.commit_interval_s
        self._max_batch = settings.max_batch
        if self.checkpointer is not None:
            self.checkpointer.interval_s = settings.checkpoint_interval_s

    # -- recording (any thread) --------------------------------------------------------------

    def record(
        self,
        category: str,
        action: str,
        *,
        severity: str = "info",
        actor: str | None = None,
        entity_type: str | None = None,
        entity_id: str | None = None,
        entity_name: str | None = None,
        message: str,
        metadata: dict[str, Any] | None = None,
        _bypass_enabled: bool = False,
    ) -> ActivityLogEntry | None:
        """Queue one entry and announce it; returns it, or None when disabled or dropped."""
        try:
            if not self._enabled and not _bypass_enabled:
                return None
            return self._record(
                _CATEGORIES[category],
                _one_line(action, MAX_FIELD_CHARS),
                _SEVERITIES[severity],
                _one_line(actor if actor is not None else current_actor.get(), MAX_FIELD_CHARS),
                _optional(entity_type),
                _optional(entity_id),
                _optional(entity_name),
                _one_line(message, MAX_MESSAGE_CHARS),
                metadata,
            )
        except Exception:  # best-effort by contract: the caller's work matters more
            log.exception("could not record activity %r", action)
            return None

    def _record(self, category, action, severity, actor, etype, eid, ename, message, metadata):
        # Never earlier than the entry before: a clock stepped back (NTP on a board without
        # an RTC) must not reorder the log, and time filters rely on ts growing with seq.
        ts_us = int(self._wall() * 1_000_000)
        metadata = metadata or {}
        if self.system_clock is not None:
            # In the metadata, so the chain covers it and the entry keeps its 11 fields; the
            # recorder's own key: a caller's `clock` is replaced, never trusted.
            metadata = {**metadata, CLOCK_KEY: self.system_clock.stamp()}
        meta_json = msgspec.json.encode(metadata)
        if len(meta_json) > MAX_METADATA_BYTES:
            kept = {CLOCK_KEY: metadata[CLOCK_KEY]} if self.system_clock is not None else {}
            metadata = {"truncated": True, "bytes": len(meta_json), **kept}
            meta_json = msgspec.json.encode(metadata)
        # Time first, so ids sort like the log and the id index only ever grows at its right end.
        entry_id = f"{ts_us:014x}{next(self._ids) & 0xFFFFFF:06x}"
        row = (
            entry_id,
            ts_us,
            category.value,
            action,
            severity.value,
            actor,
            message,
            etype,
            eid,
            ename,
            meta_json.decode(),
        )
        urgent = severity in _URGENT_SEVERITIES or category is Category.AUTH
        with self._lock:
            size = len(self._pending)
            if size >= self._max_pending:
                self.dropped_total += 1
                self._dropped_unreported += 1
                return None
            if ts_us < self._last_ts_us:
                ts_us = self._last_ts_us
                row = (row[0], ts_us, *row[2:])
            self._last_ts_us = ts_us
            now = self._clock()
            self._pending.append(row)
            self._pending_at.append(now)
            if urgent:
                self._urgent.append((self._head + size, now))
            wake = size == 0 or urgent or size + 1 == self._max_batch or self._interval == 0
        if wake:  # outside our lock: the writer calls due_at() under its own lock
            self._db.wake()
        entry = ActivityLogEntry(
            id=entry_id,
            ts=from_us(ts_us),
            category=category,
            action=action,
            severity=severity,
            actor=actor,
            message=message,
            entity_type=etype,
            entity_id=eid,
            entity_name=ename,
            metadata=metadata,
        )
        if self._bus is not None:
            # The feed's message is encoded at the loop's next turn, not in here:
            # encoding it was most of what a websocket subscriber added to this call.
            self._bus.publish_later("activity_logged", _feed_message, (entry, row[-1]))
        return entry

    # -- BatchSource (writer thread) ---------------------------------------------------------

    def due_at(self) -> float | None:
        with self._lock:
            if not self._pending:
                return None
            if self._retry_at is not None:
                return self._retry_at
            due = self._pending_at[0] + self._interval
            if len(self._pending) >= self._max_batch:
                # The moment the batch filled: already past, whoever compares it with "now".
                due = min(due, self._pending_at[self._max_batch - 1])
            if self._urgent:
                due = min(due, max(self._urgent[0][1], self._last_commit_at + self._gap))
            return due

    def write_pending(self, conn: Any) -> int | None:
        with self._lock:
            count = min(len(self._pending), self._max_batch)
            rows = list(itertools.islice(self._pending, count))
        if not rows:
            return None
        try:
            seq, value = ActivityLogRepository.insert_rows(conn, rows)
            if self.checkpointer is not None:
                self.checkpointer.after_append(conn, seq, value)
        except Exception as exc:
            self.failed(count, exc)
            raise
        return count

    @property
    def signer(self) -> Any:
        """The device key, for the anchors written beside this log's entries (or None)."""
        return self.checkpointer.key if self.checkpointer is not None else None

    def committed(self, token: int) -> None:
        if self.checkpointer is not None:
            self.checkpointer.committed()
        report = 0
        with self._lock:
            for _ in range(token):
                self._pending.popleft()
                self._pending_at.popleft()
            self._head += token
            while self._urgent and self._urgent[0][0] < self._head:
                self._urgent.popleft()
            self._last_commit_at = self._clock()
            self.written_total += token
            self.commits += 1
            recovered = self.state != "ok"
            self.state, self.reason = "ok", None
            self._retry_at, self._backoff = None, self._retry_min
            if self._dropped_unreported and len(self._pending) < self._max_pending:
                report, self._dropped_unreported = self._dropped_unreported, 0
        if recovered:
            log.warning("activity log writes work again")
        if report:
            self.record(
                "system",
                "activity.entries_dropped",
                severity="warning",
                actor=SYSTEM,
                message=f"{plural(report, 'activity entry', 'activity entries')} "
                f"{'was' if report == 1 else 'were'} lost: more than "
                f"{self._max_pending} were waiting to be written",
                metadata={"dropped": report, "max_pending": self._max_pending},
                _bypass_enabled=True,
            )

    def failed(self, token: int, error: BaseException) -> None:
        # The rows stay in the buffer; the retry waits, so a broken disk is not hammered.
        if self.checkpointer is not None:
            self.checkpointer.failed()
        with self._lock:
            first = self.state == "ok"
            self.state = "degraded"
            self.reason = f"cannot write the activity log: {type(error).__name__}: {error}"
            self._retry_at = self._clock() + self._backoff
            self._backoff = min(self._backoff * 2, self._retry_max)
        if first:
            log.error("%s; keeping up to %d entries in memory", self.reason, self._max_pending)

    # -- control -----------------------------------------------------------------------------

    def discard_pending(self) -> int:
        """Drop every waiting entry (the log is being cleared); returns how many."""
        with self._lock:
            count = len(self._pending)
            self._pending.clear()
            self._pending_at.clear()
            self._urgent.clear()
            self._head += count
            return count

    def unwritten(self) -> list[tuple]:
        """A copy of the rows waiting to be committed, oldest first (insert_rows' layout)."""
        with self._lock:
            return list(self._pending)

    @property
    def recorded_index(self) -> int:
        """Absolute index one past the newest entry accepted so far."""
        with self._lock:
            return self._head + len(self._pending)

    @property
    def committed_index(self) -> int:
        return self._head

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Return once every entry accepted before the call is durable (raises if it cannot)."""
        target = self.recorded_index
        while self._head < target:
            await self._db.write(_nothing)

    async def commit_now(self) -> None:
        """One commit carrying whatever waits. No retry: a batch that fails stays pending and
        is tried again on its own schedule."""
        await self._db.write(_nothing)

    def flush_blocking(self) -> None:
        """`flush` for threads without an event loop."""
        target = self.recorded_index
        while self._head < target:
            self._db.write_blocking(_nothing)

    def status(self) -> RecorderStatus:
        with self._lock:
            return RecorderStatus(
                self.state, self.reason, len(self._pending), self.dropped_total, self.written_total
            )


def _feed_message(stored: tuple[ActivityLogEntry, str]) -> bytes:
    """The feed's `activity_logged` message: the entry with its metadata as the JSON stored,
    so a caller that changes its metadata dict after record() changes nothing."""
    entry, meta_json = stored
    as_stored = msgspec.structs.replace(entry, metadata=msgspec.Raw(meta_json))
    return msgspec.json.encode({"type": "activity_logged", "entry": as_stored})


def _nothing(_conn: Any) -> None:
    """A write task with no work of its own: its commit carries the pending entries."""


class _NullRecorder:
    """Stands in before the server starts (and in tools): records nothing."""

    active = False

    def record(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_module_recorder: ActivityRecorder | None = None


def set_module_recorder(recorder: ActivityRecorder | None) -> None:
    global _module_recorder
    _module_recorder = recorder


def get_module_recorder() -> ActivityRecorder | _NullRecorder:
    """The running server's recorder for code outside dependency injection (zeroconf threads,
    frame loops); a do-nothing recorder when no server runs."""
    return _module_recorder or _NULL


_NULL = _NullRecorder()
