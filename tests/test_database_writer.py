"""The writer thread: durable awaited writes, rollback on error, bounded queue, batches, close."""

import asyncio
import os
import sqlite3
import threading
import time

import pytest

from ledgrab.storage.database import Database, DatabaseBusyError, DatabaseClosedError
from ledgrab.utils.background_priority import LOWEST_NICENESS


def other_connection_sees(path, sql, params=()):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_pragmas_for_flash(db):
    conn = sqlite3.connect(db.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    conn.close()


def test_awaited_write_is_visible_to_another_connection_when_it_returns(db):
    async def main():
        await db.set_setting("brightness", {"value": 0.5})
        return await db.get_setting("brightness")

    assert asyncio.run(main()) == {"value": 0.5}
    rows = other_connection_sees(db.path, "SELECT value FROM settings WHERE key = 'brightness'")
    assert rows == [('{"value":0.5}',)]


def test_failing_task_rolls_back_and_raises(db):
    def half(conn):
        Database.put_setting(conn, "a", 1)
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        db.write_blocking(half)
    assert db.get_setting_blocking("a") is None
    db.write_blocking(Database.put_setting, "a", 2)  # the writer keeps working
    assert db.get_setting_blocking("a") == 2


def test_queue_is_bounded(tmp_path):
    database = Database(tmp_path / "db", max_queued_writes=2)
    database.open()
    gate = threading.Event()
    try:
        first = database.submit(lambda conn: gate.wait(10))
        while not first.running():
            time.sleep(0.001)
        database.submit(Database.put_setting, "x", 1)
        database.submit(Database.put_setting, "y", 2)
        with pytest.raises(DatabaseBusyError):
            database.submit(Database.put_setting, "z", 3)
    finally:
        gate.set()
        database.close()
    assert other_connection_sees(tmp_path / "db", "SELECT key FROM settings ORDER BY key") == [
        ("x",),
        ("y",),
    ], "queued writes are drained by close()"


def test_close_is_idempotent_and_refuses_new_work(db):
    db.close()
    db.close()
    with pytest.raises(DatabaseClosedError):
        db.submit(Database.put_setting, "k", 1)
    with pytest.raises(DatabaseClosedError):
        db.read_blocking(lambda conn: 1)


class ListSource:
    """A BatchSource over a list: what an activity recorder does, minus the details."""

    def __init__(self, delay):
        self.delay = delay
        self.pending = []
        self.since = None
        self.commits = 0
        self.lock = threading.Lock()

    def add(self, db, item):
        with self.lock:
            self.pending.append(item)
            self.since = self.since or time.monotonic()
        db.wake()

    def due_at(self):
        with self.lock:
            return None if not self.pending else self.since + self.delay

    def write_pending(self, conn):
        with self.lock:
            items = list(self.pending)
        if not items:
            return None
        conn.executemany("INSERT INTO items VALUES (?)", [(i,) for i in items])
        return len(items)

    def committed(self, count):
        with self.lock:
            del self.pending[:count]
            self.since = time.monotonic() if self.pending else None
            self.commits += 1

    def failed(self, count, error):
        pass


def test_batch_rides_on_a_write_that_happens_anyway(db):
    db.write_blocking(lambda conn: conn.execute("CREATE TABLE items (v TEXT)"))
    source = ListSource(delay=3600)  # its own deadline is far away
    db.add_batch_source(source)
    source.add(db, "a")
    source.add(db, "b")
    db.write_blocking(Database.put_setting, "config", 1)
    assert other_connection_sees(db.path, "SELECT v FROM items ORDER BY v") == [("a",), ("b",)]
    assert source.commits == 1 and source.pending == []


def test_batch_gets_its_own_commit_at_its_deadline(db):
    db.write_blocking(lambda conn: conn.execute("CREATE TABLE items (v TEXT)"))
    source = ListSource(delay=0.05)
    db.add_batch_source(source)
    for item in "xyz":
        source.add(db, item)
    deadline = time.monotonic() + 10
    while source.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert other_connection_sees(db.path, "SELECT count(*) FROM items") == [(3,)]


def test_close_flushes_pending_batches(tmp_path):
    database = Database(tmp_path / "db")
    database.open()
    database.write_blocking(lambda conn: conn.execute("CREATE TABLE items (v TEXT)"))
    source = ListSource(delay=3600)
    database.add_batch_source(source)
    source.add(database, "kept")
    database.close()
    assert other_connection_sees(tmp_path / "db", "SELECT v FROM items") == [("kept",)]


def test_backup_is_a_standalone_consistent_copy(db, tmp_path):
    db.write_blocking(Database.put_setting, "name", "desk")
    copy = db.backup_to_blocking(tmp_path / "backup.db")
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("SELECT value FROM settings").fetchall() == [('"desk"',)]
    conn.close()
    assert not (tmp_path / "backup.db.partial").exists()


def test_clearing_a_table_does_not_overwrite_its_freed_pages(db):
    """secure_delete FAST: a DELETE of every row hands pages to the freelist without writing
    zeros over them (Debian's default would rewrite every freed page: flash wear)."""

    def written() -> int:
        with open("/proc/self/io") as io:
            return next(int(line.split()[1]) for line in io if line.startswith("wchar"))

    filler = [(f"{i:020d}", 0, "system", "a.b", "info", "t", "x" * 200) for i in range(20_000)]
    insert = (
        "INSERT INTO activity_log (id, ts, category, action, severity, actor, message) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    db.write_blocking(lambda c: c.executemany(insert, filler))
    table_bytes = db.read_blocking(lambda c: c.execute("PRAGMA page_count").fetchone()[0]) * 4096
    assert table_bytes > 5_000_000
    before = written()
    db.write_blocking(lambda c: c.execute("DELETE FROM activity_log"))
    assert written() - before < table_bytes / 10
    assert db.write_blocking(lambda c: c.execute("PRAGMA secure_delete").fetchone()[0]) == 2


def test_reads_and_backup_copies_run_at_the_lowest_cpu_priority_and_writes_do_not(db, tmp_path):
    """Heavy reads yield the CPU to a frame loop that wakes; the writer (what a client was told
    is saved) keeps the process's priority."""

    def niceness(_conn=None) -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def scenario() -> tuple[int, int, int]:
        read = await db.read(niceness)
        write = await db.write(niceness)
        copied = tmp_path / "copy.db"
        real_copy = db.backup_to_blocking
        seen = []

        def copy_and_look(dest):
            seen.append(niceness())
            return real_copy(dest)

        db.backup_to_blocking = copy_and_look
        await db.backup_to(copied)
        return read, write, seen[0]

    read, write, copy = asyncio.run(scenario())
    assert (read, copy) == (LOWEST_NICENESS, LOWEST_NICENESS)
    assert write == os.getpriority(os.PRIO_PROCESS, 0)
