"""The recorder's commit policy: interval, full batch, urgent entries (rate-capped), idle."""

from __future__ import annotations

import os
import time

from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.activity_log.settings import ActivityLogSettings
from ledgrab.storage.database import Database
from tests.activity.helpers import open_recorder, rows
from tests.support.live_server import wait_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _policy(tmp_path, **settings) -> tuple[ActivityRecorder, FakeClock]:
    clock = FakeClock()
    # An unopened Database: wake() works, nothing is written; only the policy is under test.
    recorder = ActivityRecorder(
        Database(tmp_path / "unused.db"),
        settings=ActivityLogSettings(**settings),
        clock=clock,
        immediate_gap_s=1.0,
    )
    return recorder, clock


def test_due_after_the_interval_of_the_oldest_entry(tmp_path):
    recorder, clock = _policy(tmp_path, commit_interval_s=5)
    assert recorder.due_at() is None
    recorder.record("system", "a.b", message="one")
    clock.now += 3
    recorder.record("system", "a.b", message="two")
    assert recorder.due_at() == 1005.0


def test_due_at_once_when_a_batch_is_full(tmp_path):
    recorder, clock = _policy(tmp_path, commit_interval_s=60, max_batch=10)
    for i in range(9):
        recorder.record("system", "a.b", message=str(i))
    assert recorder.due_at() == 1060.0
    clock.now += 1
    recorder.record("system", "a.b", message="10th")
    assert recorder.due_at() == clock.now


def test_urgent_entries_are_due_at_once_but_at_most_once_a_second(tmp_path):
    recorder, clock = _policy(tmp_path, commit_interval_s=60)
    recorder.record("auth", "auth.failed", message="bad key")
    assert recorder.due_at() == clock.now
    recorder.committed(recorder.pending)
    clock.now += 0.25
    recorder.record("system", "x.y", severity="error", message="boom")
    # The last commit was 0.25 s ago: this one waits for the rest of the second.
    assert recorder.due_at() == clock.now + 0.75
    recorder.record("system", "x.y", severity="info", message="plain")
    assert recorder.due_at() == clock.now + 0.75


def test_entries_reach_the_database_in_batches(tmp_path):
    settings = ActivityLogSettings(commit_interval_s=300, max_batch=50)
    with open_recorder(tmp_path / "a.db", settings) as (_db, recorder):
        for i in range(120):
            recorder.record("system", "test.entry", message=f"entry {i}")
        wait_for(lambda: recorder.written_total == 100, what="two full batches")
        assert recorder.commits == 2
        assert recorder.pending == 20
        assert len(rows(tmp_path / "a.db")) == 100
    # close() flushed the rest.
    assert [r[1] for r in rows(tmp_path / "a.db")] == ["test.entry"] * 120


def test_a_config_write_carries_the_pending_entries(tmp_path):
    settings = ActivityLogSettings(commit_interval_s=300)
    with open_recorder(tmp_path / "a.db", settings) as (db, recorder):
        recorder.record("entity", "device.created", message="made")
        assert rows(tmp_path / "a.db") == []
        db.write_blocking(Database.put_setting, "some", 1)
        assert [r[1] for r in rows(tmp_path / "a.db")] == ["device.created"]
        assert recorder.pending == 0


def test_an_error_entry_is_committed_without_waiting_for_the_interval(tmp_path):
    settings = ActivityLogSettings(commit_interval_s=300)
    with open_recorder(tmp_path / "a.db", settings) as (_db, recorder):
        recorder.record("system", "plain.info", message="waits")
        recorder.record("device", "device.failed", severity="error", message="now")
        wait_for(lambda: recorder.written_total == 2, what="the immediate commit")
        assert [r[1] for r in rows(tmp_path / "a.db")] == ["plain.info", "device.failed"]


def test_an_idle_recorder_writes_nothing(tmp_path):
    path = tmp_path / "a.db"
    settings = ActivityLogSettings(commit_interval_s=0.05)
    with open_recorder(path, settings) as (_db, recorder):
        recorder.record("system", "one.entry", message="x")
        wait_for(lambda: recorder.written_total == 1, what="the commit")
        files = [path, path.with_name(path.name + "-wal")]
        before = [(os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
        time.sleep(0.5)  # ten commit intervals with nothing to write
        after = [(os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
        assert after == before
        assert recorder.commits == 1


def test_interval_zero_commits_each_entry(tmp_path):
    settings = ActivityLogSettings(commit_interval_s=0)
    with open_recorder(tmp_path / "a.db", settings) as (_db, recorder):
        for i in range(5):
            recorder.record("system", "one.by.one", message=str(i))
            wait_for(lambda i=i: recorder.written_total == i + 1, what="its own commit")
        assert recorder.commits == 5
