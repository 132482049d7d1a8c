"""The database reads on two threads, or on one when the process may use one CPU only (two
readers on one CPU hold a waiting frame back while they take turns with the interpreter lock).
Real SQLite files; the CPUs are this thread's affinity, as the server's would be."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ledgrab.storage.database import Database


def _open_on(cpus: set[int], path) -> Database:
    """A database opened by a thread allowed `cpus` (then allowed its old CPUs again)."""
    original = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        db = Database(path)
    finally:
        os.sched_setaffinity(0, original)
    db.open()
    return db


def _two_reads_at_once(db: Database) -> tuple[bool, set[int]]:
    """Start two reads, the first waiting (up to 2 s) for the second to begin: whether they ran
    side by side, and on which threads."""
    first_began, second_began = threading.Event(), threading.Event()
    threads: set[int] = set()

    def first(conn) -> bool:
        threads.add(threading.get_ident())
        first_began.set()
        return second_began.wait(2.0)

    def second(conn) -> None:
        threads.add(threading.get_ident())
        second_began.set()

    with ThreadPoolExecutor(2) as callers:
        waited = callers.submit(db.read_blocking, first)
        assert first_began.wait(10)
        callers.submit(db.read_blocking, second).result(10)
        return waited.result(10), threads


def test_one_cpu_gets_one_reader_that_takes_the_reads_in_turn(tmp_path):
    db = _open_on({min(os.sched_getaffinity(0))}, tmp_path / "one.db")
    try:
        side_by_side, threads = _two_reads_at_once(db)
        assert not side_by_side and len(threads) == 1
        assert db.read_blocking(lambda conn: conn.execute("SELECT 1").fetchone()[0]) == 1
    finally:
        db.close()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_two_cpus_get_two_readers_side_by_side(tmp_path):
    db = _open_on(set(sorted(os.sched_getaffinity(0))[:2]), tmp_path / "two.db")
    try:
        side_by_side, threads = _two_reads_at_once(db)
        assert side_by_side and len(threads) == 2
    finally:
        db.close()
