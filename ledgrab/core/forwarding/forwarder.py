"""One forwarder: a thread that reads the log after its cursor and sends it, in order, in
bounded batches, at least once. The log is the outbox: nothing waits in memory but the batch
in hand, so a dead collector costs one batch, however long it stays away."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from ledgrab.config import ForwardingConfig as Timings
from ledgrab.core.activity_log.context import SYSTEM
from ledgrab.core.forwarding.channels import Channel, open_channel
from ledgrab.core.forwarding.config import ForwarderConfig
from ledgrab.core.forwarding.records import SEVERITY_RANK, Gap, Outgoing, read_batch, to_chained
from ledgrab.core.forwarding.transports import DeliveryError
from ledgrab.storage.activity_log import ActivityLogFilters, Severity, from_us, to_us

__all__ = ["Forwarder", "ForwarderStatus", "matches"]

log = logging.getLogger(__name__)


class ForwarderStatus(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    state: str  # "ok" | "retrying" | "stopped"
    delivered_seq: int  # the cursor: every entry up to it was delivered (or filtered out)
    newest_seq: int | None
    lag_entries: int
    lag_seconds: float | None
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    retry_in_s: float | None
    consecutive_failures: int
    delivered_total: int
    gaps_total: int


def matches(filters: ActivityLogFilters, min_rank: int, row: tuple) -> bool:
    """The list route's 8 filters and the minimum severity, on a row from `entries_after`."""
    _, _, ts, category, _, severity, actor, message, etype, eid = row[:10]
    if SEVERITY_RANK[Severity(severity)] < min_rank:
        return False
    if filters.categories and category not in filters.categories:
        return False
    if filters.severities and severity not in filters.severities:
        return False
    for wanted, value in ((filters.actor, actor), (filters.entity_type, etype)):
        if wanted is not None and wanted != value:
            return False
    if filters.entity_id is not None and filters.entity_id != eid:
        return False
    if filters.since is not None and ts < to_us(filters.since):
        return False
    if filters.until is not None and ts > to_us(filters.until):
        return False
    return not filters.message_like or filters.message_like.casefold() in message.casefold()


class Forwarder:
    """Start with the cursor committed last time; `on_cursor(name, seq)` is told each time
    delivery is confirmed further (the cursor store writes it with the next commit)."""

    def __init__(
        self,
        config: ForwarderConfig,
        cursor: int,
        *,
        db: Any,
        recorder: Any,
        timings: Timings,
        device_id: str,
        on_cursor: Callable[[str, int], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._db, self._recorder, self._t = db, recorder, timings
        self._device_id = device_id
        self._on_cursor = on_cursor
        self._clock = clock
        self._min_rank = SEVERITY_RANK[config.min_severity]
        self._acked = self._sent = cursor
        # (seq, written at) of batches written to a stream not yet known to have arrived.
        self._marks: deque[tuple[int, float]] = deque(maxlen=1000)
        self._channel: Channel | None = None
        self._stopping = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._gap_reported = cursor
        self._newest: int | None = None
        self._oldest_waiting_us: int | None = None
        self._state = "ok"
        self._last_success: datetime | None = None
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._retry_at: float | None = None
        self._failures = 0
        self._delivered_total = 0
        self._gaps_total = 0

    # -- control (any thread) ----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"ledgrab-forward-{self.config.name}", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def request_stop(self) -> None:
        """Never blocks: the thread ends after its current socket call (at most a timeout)."""
        self._stopping = True
        self._stop.set()
        self._wake.set()

    def stop(self) -> None:
        """Blocking: end the thread."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(self._t.timeout_s * 3 + 1)
            self._thread = None

    def status(self) -> ForwarderStatus:
        with self._lock:
            newest = self._newest
            lag = max(0, newest - self._acked) if newest is not None else 0
            lag_s = None
            if lag and self._oldest_waiting_us is not None:
                age = datetime.now(UTC) - from_us(self._oldest_waiting_us)
                lag_s = round(max(0.0, age.total_seconds()), 3)
            retry_in = None
            if self._retry_at is not None:
                retry_in = round(max(0.0, self._retry_at - self._clock()), 3)
            return ForwarderStatus(
                name=self.config.name,
                kind=self.config.target.__struct_config__.tag,
                state="stopped" if self._stopping else self._state,
                delivered_seq=self._acked,
                newest_seq=newest,
                lag_entries=lag,
                lag_seconds=lag_s,
                last_success=self._last_success,
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                retry_in_s=retry_in,
                consecutive_failures=self._failures,
                delivered_total=self._delivered_total,
                gaps_total=self._gaps_total,
            )

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping:
                try:
                    more = self._step()
                except Exception as exc:
                    # New entries do not cut a backoff short: only a stop does.
                    self._stop.wait(self._failed(exc))
                    continue
                if not more:
                    self._wake.wait(self._idle_wait())
                    self._wake.clear()
        finally:
            if self._channel is not None:
                self._channel.close()

    def _idle_wait(self) -> float:
        if self._marks:
            due = self._marks[0][1] + self._t.confirm_after_s - self._clock()
            return max(0.05, min(self._t.poll_interval_s, due))
        return self._t.poll_interval_s

    def _step(self) -> bool:
        """Send the next batch; True when there may be more right away."""
        if self._channel is None:
            self._channel = open_channel(self.config, self._t.timeout_s, self._device_id)
        if not self._confirm():
            return False
        newest, rows = self._db.read_blocking(read_batch, self._sent, self.config.batch_size)
        with self._lock:
            self._newest = newest
            if rows:
                self._oldest_waiting_us = rows[0][2]
            elif not self._marks:
                self._oldest_waiting_us = None
        if not rows:
            return False
        items: list[Outgoing] = []
        first = rows[0][0]
        if first > self._sent + 1:
            items.append(Gap(self._sent + 1, first - 1))
        filters = self.config.filters
        items.extend(to_chained(r) for r in rows if matches(filters, self._min_rank, r))
        if items:
            self._channel.send(items)
        self._delivered(rows[-1][0], items)
        return len(rows) >= self.config.batch_size

    def _confirm(self) -> bool:
        """Streams: a batch counts once the collector's TCP acknowledged it and the connection
        outlived it by confirm_after_s; a connection closed before that is a failure (so the
        forwarder rewinds to the last confirmed seq);
        nothing more is written while the collector has not acknowledged what it has (so at
        most one batch is in flight), and one that acknowledges nothing for timeout_s fails.
        True when the next batch may be sent."""
        state = self._channel.check()  # also notices (and drops) a connection closed while idle
        if not self._marks:
            return True  # nothing written is unconfirmed: the next send simply reconnects
        if state == "closed":
            # Written, not confirmed, and the collector hung up (stopped, or refused us after the
            # handshake): a failure, so it is reported and backed off, then sent again.
            raise DeliveryError(self._channel.closed_because)
        now = self._clock()
        if state == "pending":
            waited = now - self._marks[-1][1]
            if waited > self._t.timeout_s:
                raise DeliveryError(f"the collector acknowledged nothing for {waited:.1f} s")
            return False
        while self._marks and self._marks[0][1] + self._t.confirm_after_s <= now:
            self._advance(self._marks.popleft()[0])
        return True

    def _delivered(self, last: int, items: list[Outgoing]) -> None:
        gaps = [i for i in items if isinstance(i, Gap)]
        for gap in gaps:
            self._report_gap(gap)
        with self._lock:
            self._sent = last
            self._delivered_total += len(items) - len(gaps)
        if self._channel.confirms or (not items and not self._marks):
            self._advance(last)
        else:
            self._marks.append((last, self._clock()))

    def _advance(self, seq: int) -> None:
        """Delivery confirmed up to `seq`: only now is a failing forwarder well again (a stream
        the collector accepts and then drops keeps backing off)."""
        with self._lock:
            self._acked = seq
            if self._retry_at is not None:
                log.info("forwarder %s delivers again", self.config.name)
            self._state, self._failures, self._retry_at = "ok", 0, None
            self._last_success = datetime.now(UTC)
        self._on_cursor(self.config.name, seq)

    def _report_gap(self, gap: Gap) -> None:
        if gap.last <= self._gap_reported:
            return  # sent again after an outage: already reported
        self._gap_reported = gap.last
        self._gaps_total += 1
        name = self.config.name
        self._recorder.record(
            "system",
            "forward.gap",
            severity="warning",
            actor=SYSTEM,
            message=f"Forwarder {name}: {gap.count} entries (seq {gap.first}..{gap.last}) were "
            "removed from the log before they could be forwarded",
            metadata={"forwarder": name, "first": gap.first, "last": gap.last, "count": gap.count},
        )

    def _failed(self, exc: Exception) -> float:
        """Forget what was written but not confirmed (it is sent again) and wait, doubling."""
        if self._channel is not None:
            self._channel.close()
        self._marks.clear()
        reason = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._sent = self._acked
            self._failures += 1
            wait = min(self._t.retry_min_s * 2 ** (self._failures - 1), self._t.retry_max_s)
            self._state = "retrying"
            first = self._last_error != reason or self._failures == 1
            self._last_error, self._last_error_at = reason, datetime.now(UTC)
            self._retry_at = self._clock() + wait
        # A collector that stays away is said once, then quietly (it shows on /health).
        (log.warning if first else log.debug)(
            "forwarder %s cannot deliver (retry in %.1f s): %s", self.config.name, wait, reason
        )
        return wait
