"""Retention keeps each bound (entries, days, bytes) with small deletes riding on commits."""

from __future__ import annotations

import asyncio
import time

from ledgrab.core.activity_log.retention import RetentionEngine
from ledgrab.core.activity_log.settings import ActivityLogSettings
from tests.activity.helpers import open_recorder, rows
from tests.support.live_server import wait_for


def _with_retention(db, recorder, settings, **kwargs) -> RetentionEngine:
    retention = RetentionEngine(db, recorder, settings, **kwargs)
    db.add_batch_source(retention)
    return retention


def test_max_entries_keeps_exactly_the_newest(tmp_path):
    path = tmp_path / "a.db"
    settings = ActivityLogSettings(commit_interval_s=300, max_batch=7, max_entries=20)
    with open_recorder(path, settings) as (db, recorder):
        retention = _with_retention(db, recorder, settings, prune_batch=5)
        for i in range(100):
            recorder.record("system", "t.e", message=str(i))
        recorder.flush_blocking()
        # due_at() turns None when the last prune is written, pruned_total when it commits.
        wait_for(
            lambda: retention.due_at() is None and retention.pruned_total >= 80,
            what="retention to catch up",
        )
        db.remove_batch_source(retention)
        assert retention.pruned_total == 80
    assert [int(m) for (m,) in rows(path, "SELECT message FROM activity_log")] == list(
        range(80, 100)
    )


def test_max_days_removes_only_what_is_older(tmp_path):
    path = tmp_path / "a.db"
    now = time.time()
    fake_now = [now - 40 * 86_400]
    settings = ActivityLogSettings(commit_interval_s=300, max_days=30)
    with open_recorder(path, settings, wall_clock=lambda: fake_now[0]) as (db, recorder):
        for i in range(30):
            recorder.record("system", "old.entry", message=str(i))
        recorder.flush_blocking()
        fake_now[0] = now
        for i in range(10):
            recorder.record("system", "new.entry", message=str(i))
        recorder.flush_blocking()
        retention = _with_retention(db, recorder, settings, prune_batch=8)
        retention.request_run()  # nothing else writes: retention commits on its own
        wait_for(lambda: retention.pruned_total >= 30, what="the old entries to go")
        db.remove_batch_source(retention)
    assert [a for _, a in rows(path)] == ["new.entry"] * 10


def _database_bytes(conn) -> int:
    return conn.execute("PRAGMA page_count").fetchone()[0] * 4096


def test_max_bytes_stops_the_file_growing(tmp_path):
    path = tmp_path / "a.db"
    bound = 1024 * 1024
    settings = ActivityLogSettings(commit_interval_s=300, max_batch=100, max_bytes=bound)
    with open_recorder(path, settings) as (db, recorder):
        retention = _with_retention(db, recorder, settings, prune_batch=400)
        sizes = []
        for _round in range(40):
            for i in range(100):
                recorder.record("system", "t.e", message="z" * 500 + str(i))
            recorder.flush_blocking()
            # The database's own size: the main file alone lags behind until a checkpoint.
            sizes.append(db.read_blocking(_database_bytes))
        db.remove_batch_source(retention)
        assert retention.pruned_total > 0
    # 40 rounds would be ~2.4 MB of payload; the file levels off near the bound.
    assert max(sizes) <= bound * 1.25
    assert sizes[-1] == sizes[-10]


def test_pruning_is_reported_once_per_report(tmp_path):
    path = tmp_path / "a.db"
    settings = ActivityLogSettings(commit_interval_s=300, max_entries=10)
    with open_recorder(path, settings) as (db, recorder):
        retention = _with_retention(db, recorder, settings)
        for i in range(30):
            recorder.record("system", "t.e", message=str(i))
        recorder.flush_blocking()
        retention.report()
        retention.report()  # nothing new: no second entry
        recorder.flush_blocking()
        db.remove_batch_source(retention)
    reports = rows(path, "SELECT message FROM activity_log WHERE action = 'retention.pruned'")
    assert reports == [("Retention removed 20 old activity entries (20 past max_entries)",)]


def test_start_and_stop_inside_a_loop(tmp_path):
    settings = ActivityLogSettings(max_entries=1000)
    with open_recorder(tmp_path / "a.db", settings) as (db, recorder):

        async def main() -> None:
            retention = RetentionEngine(db, recorder, settings, check_interval_s=0.01)
            retention.start()
            await asyncio.sleep(0.05)
            await retention.stop()

        asyncio.run(main())


def test_totals_stay_exact_after_pruning(tmp_path):
    from datetime import timedelta

    from ledgrab.storage.activity_log import ActivityLogFilters, ActivityLogRepository
    from ledgrab.storage.activity_query import total_for

    path = tmp_path / "a.db"
    settings = ActivityLogSettings(commit_interval_s=300, max_batch=13, max_entries=40)
    with open_recorder(path, settings) as (db, recorder):
        retention = _with_retention(db, recorder, settings, prune_batch=7)
        entries = [recorder.record("system", "t.e", message=str(i)) for i in range(150)]
        recorder.flush_blocking()
        # due_at() turns None when the last prune is written, pruned_total when it commits.
        wait_for(
            lambda: retention.due_at() is None and retention.pruned_total >= 80,
            what="retention to catch up",
        )
        db.remove_batch_source(retention)
        repo = ActivityLogRepository
        since = entries[120].ts
        for filters in (
            ActivityLogFilters(),
            ActivityLogFilters(since=since),
            ActivityLogFilters(until=since),
            ActivityLogFilters(since=since, until=since + timedelta(microseconds=5)),
        ):
            counted, _ = db.read_blocking(total_for, filters)
            listed = db.read_blocking(repo.fetch_rows, filters, 1000)
            assert counted == len(listed), filters
