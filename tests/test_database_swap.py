"""Database.swap_file replaces the file under one Database object; writes and reads keep going."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from ledgrab.storage.database import Database, DatabaseClosedError
from tests.support.db_files import make_ledgrab_db
from tests.support.live_server import wait_for


def _count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM settings").fetchone()[0]


def _copy_in(source: Path):
    def replace(live: Path):
        aside = live.with_name(live.name + ".old")
        live.rename(aside)
        shutil.copyfile(source, live)

        def undo():
            live.unlink()
            aside.rename(live)

        return undo

    return replace


def test_same_object_sees_the_new_file(db, tmp_path):
    other = make_ledgrab_db(tmp_path / "other.db", rows=7)
    db.write_blocking(lambda c: Database.put_setting(c, "mine", 1))
    assert db.read_blocking(_count) == 1
    assert db.submit_swap(_copy_in(other)).result() == []
    assert db.read_blocking(_count) == 7
    db.write_blocking(lambda c: Database.put_setting(c, "after", 2))
    assert db.get_setting_blocking("after") == 2
    assert db.get_setting_blocking("mine") is None
    old = sqlite3.connect(f"{db.path}.old")
    assert old.execute("SELECT value FROM settings WHERE key = 'mine'").fetchone() == ("1",)
    old.close()


def test_writes_queued_before_land_in_old_file_and_after_in_new(db, tmp_path):
    other = make_ledgrab_db(tmp_path / "other.db", rows=0)
    gate = threading.Event()
    blocker = db.submit(lambda c: gate.wait(10))
    before = db.submit(lambda c: Database.put_setting(c, "before", 1))
    swap = db.submit_swap(_copy_in(other))
    after = db.submit(lambda c: Database.put_setting(c, "after", 1))
    gate.set()
    for future in (blocker, before, swap, after):
        future.result(10)
    assert db.get_setting_blocking("after") == 1
    assert db.get_setting_blocking("before") is None
    old = sqlite3.connect(f"{db.path}.old")
    assert old.execute("SELECT key FROM settings").fetchall() == [("before",)]
    old.close()


class _Pending:
    """A batch source with one pending item until committed (like the activity recorder)."""

    def __init__(self) -> None:
        self.pending = ["entry"]
        self.committed_to: list[str] = []

    def due_at(self):
        return 1e18 if self.pending else None

    def write_pending(self, conn):
        if not self.pending:
            return None
        Database.put_setting(conn, "batched", self.pending[0])
        return list(self.pending)

    def committed(self, token):
        self.pending = []
        self.committed_to.append("done")

    def failed(self, token, error):
        pass


def test_pending_batches_are_committed_to_the_old_file_first(db, tmp_path):
    other = make_ledgrab_db(tmp_path / "other.db", rows=0)
    source = _Pending()
    db.add_batch_source(source)
    db.submit_swap(_copy_in(other)).result(10)
    assert source.committed_to == ["done"]
    old = sqlite3.connect(f"{db.path}.old")
    assert old.execute("SELECT value FROM settings WHERE key = 'batched'").fetchone()
    old.close()
    assert db.get_setting_blocking("batched") is None


def test_a_file_that_will_not_open_is_undone(db, tmp_path):
    db.write_blocking(lambda c: Database.put_setting(c, "mine", 1))
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database at all" * 300)
    with pytest.raises(sqlite3.DatabaseError):
        db.submit_swap(_copy_in(bad)).result(10)
    assert db.get_setting_blocking("mine") == 1
    db.write_blocking(lambda c: Database.put_setting(c, "still", 2))
    assert db.get_setting_blocking("still") == 2


def test_reads_during_a_swap_wait_and_then_see_one_file(db, tmp_path):
    other = make_ledgrab_db(tmp_path / "other.db", rows=50)
    db.write_blocking(lambda c: Database.put_setting(c, "mine", 1))
    seen: list[int] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(db.read_blocking(_count))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        db.submit_swap(_copy_in(other)).result(10)
        wait_for(lambda: seen and seen[-1] == 50, what="a read of the new file")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert set(seen) <= {1, 50}
    assert 50 in seen


def test_swap_on_a_closed_database_is_refused(tmp_path):
    database = Database(tmp_path / "x.db")
    database.open()
    database.close()
    with pytest.raises(DatabaseClosedError):
        database.submit_swap(lambda path: None)


def test_when_neither_file_reopens_queued_writes_fail_instead_of_hanging(db, tmp_path):
    def replace_without_undo(live: Path):
        live.write_bytes(b"garbage, and no way back" * 500)
        return None

    gate = threading.Event()
    blocker = db.submit(lambda c: gate.wait(10))
    swap = db.submit_swap(replace_without_undo)
    queued = db.submit(lambda c: Database.put_setting(c, "lost", 1))
    gate.set()
    blocker.result(10)
    with pytest.raises(sqlite3.DatabaseError):
        swap.result(10)
    with pytest.raises(DatabaseClosedError):
        queued.result(10)
    with pytest.raises(DatabaseClosedError):
        db.submit(lambda c: None)
    assert not db.is_open and db.last_error
