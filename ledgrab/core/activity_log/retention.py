"""Retention: prune the oldest entries past max_entries/max_days/max_bytes, in small batches that
ride on the writer's commits (a BatchSource); a timer only catches age limits on an idle log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from ledgrab.core.activity_log.context import SYSTEM
from ledgrab.core.activity_log.settings import ActivityLogSettings
from ledgrab.storage.activity_log import ActivityLogRepository as Repo
from ledgrab.utils.plain_text import plural
from ledgrab.utils.tasks import cancel_and_wait

__all__ = ["RetentionEngine"]

log = logging.getLogger(__name__)


class RetentionEngine:
    """Every commit (entries, config writes) also deletes up to `prune_batch` of the oldest rows
    that break a bound, so the log stays at its bounds without a large delete. The engine asks
    for a commit of its own only when a bound is still broken and nothing else is writing."""

    def __init__(
        self,
        db: Any,
        recorder: Any,
        settings: ActivityLogSettings | None = None,
        *,
        prune_batch: int = 1000,
        check_interval_s: float = 3600.0,
        retry_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._recorder = recorder
        self.settings = settings or ActivityLogSettings()
        self._prune_batch = prune_batch
        self._check_interval = check_interval_s
        self._retry_s = retry_s
        self._clock, self._wall = clock, wall_clock
        # Check once at start: the bounds may have changed while stopped. The deadline is the
        # moment work was asked for (a past time), never "now" read again later.
        self._work_since: float | None = clock()
        self._retry_at: float | None = None
        self._task: asyncio.Task | None = None
        self.pruned_total = 0
        self._unreported: Counter[str] = Counter()
        # The age an entry's max_days bound sees (ClockSteps.age_us): one made while the clock
        # was not synchronised counts by its corrected time, and is kept while that is unknown.
        self.age_us: Callable[[int, str], int | None] | None = None

    # -- control (event loop) ----------------------------------------------------------------

    def apply_settings(self, settings: ActivityLogSettings) -> None:
        self.settings = settings
        self.request_run()

    def request_run(self) -> None:
        self._work_since = self._clock()
        self._db.wake()

    def start(self) -> None:
        self._db.add_batch_source(self)
        self._db.wake()
        self._task = asyncio.get_running_loop().create_task(self._timer(), name="retention")

    async def stop(self) -> None:
        """Stop pruning; what was pruned and not yet reported is recorded now."""
        await cancel_and_wait(self._task)
        self._task = None
        self._db.remove_batch_source(self)
        self.report()

    async def _timer(self) -> None:
        # Age limits need a clock, not a write: an idle log still ages. The check itself costs a
        # transaction that is rolled back, which writes nothing, when no entry is old enough.
        while True:
            await asyncio.sleep(self._check_interval)
            self.report()
            self.request_run()

    def report(self) -> None:
        """One `retention.pruned` entry for everything removed since the last report."""
        if not self._unreported:
            return
        counts, self._unreported = self._unreported, Counter()
        total = sum(counts.values())
        reasons = ", ".join(f"{n} past {bound}" for bound, n in sorted(counts.items()))
        self._recorder.record(
            "system",
            "retention.pruned",
            actor=SYSTEM,
            message=f"Retention removed "
            f"{plural(total, 'old activity entry', 'old activity entries')} ({reasons})",
            metadata={"removed": total, **{f"by_{k}": v for k, v in counts.items()}},
        )

    # -- BatchSource (writer thread) ---------------------------------------------------------

    def due_at(self) -> float | None:
        if self._work_since is None:
            return None
        return self._retry_at if self._retry_at is not None else self._work_since

    def write_pending(self, conn: Any) -> Counter[str] | None:
        settings, budget = self.settings, self._prune_batch
        removed: Counter[str] = Counter()
        low, high = Repo.seq_bounds(conn)
        now_us = int(self._wall() * 1_000_000)
        anchored = {"signer": getattr(self._recorder, "signer", None), "now_us": now_us}
        if high is not None:
            # Entries are only ever deleted from the oldest end, so the seqs held are a
            # contiguous range and this keeps exactly the newest max_entries.
            cut = high - settings.max_entries
            if low is not None and cut >= low:
                removed["max_entries"] += Repo.prune_oldest(
                    conn, budget, through_seq=cut, reason="max_entries", **anchored
                )
            left = budget - removed.total()
            cutoff_us = int((self._wall() - settings.max_days * 86_400) * 1_000_000)
            oldest = Repo.oldest_ts(conn)
            if left > 0 and oldest is not None and oldest < cutoff_us:
                removed["max_days"] += Repo.prune_oldest(
                    conn,
                    left,
                    before_us=cutoff_us,
                    reason="max_days",
                    age_us=self.age_us,
                    **anchored,
                )
            left = budget - removed.total()
            used = _used_bytes(conn)
            if left > 0 and used > settings.max_bytes:
                # As many rows as the excess holds at the average row size: freed pages are
                # reused, so the file stops growing once the used part is under the bound.
                rows = max(1, high - low + 1 - removed.total())
                excess = used - settings.max_bytes
                wanted = min(left, rows, -(-excess * rows // used) + 1)
                removed["max_bytes"] += Repo.prune_oldest(
                    conn, wanted, reason="max_bytes", **anchored
                )
        total = removed.total()
        # More to do after a full budget: ask for another commit; otherwise stand down.
        self._work_since = self._clock() if total >= budget else None
        return +removed or None

    def committed(self, token: Counter[str]) -> None:
        self._retry_at = None
        self.pruned_total += token.total()
        self._unreported.update(token)

    def failed(self, token: Counter[str], error: BaseException) -> None:
        self._work_since = self._clock()
        self._retry_at = self._clock() + self._retry_s
        log.warning("retention could not prune: %s", error)


def _used_bytes(conn: Any) -> int:
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return (pages - free) * page_size
