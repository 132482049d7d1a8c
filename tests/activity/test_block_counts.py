"""Sealed-block counts: totals, pages and stats read through them equal a brute-force pass over
the same SQLite file, through inserts, prunes, clears, a migration, and the read budget."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter

import pytest

from ledgrab.storage import activity_counts, activity_query
from ledgrab.storage.activity_log import (
    COLUMNS,
    ActivityLogFilters,
    ActivityLogRepository,
    Category,
    Severity,
    from_us,
    live_range,
)
from ledgrab.storage.data_migrations import MIGRATIONS
from ledgrab.storage.database import Database

repo = ActivityLogRepository
ACTORS = ["admin", "system", "tablet"]
ENTITIES = [("device", "d1"), ("device", "d2"), ("target", "t1"), (None, None)]


def _row(rng: random.Random, n: int, ts_us: int) -> tuple:
    entity_type, entity_id = rng.choice(ENTITIES)
    return (
        f"{ts_us:014x}{n:06x}",
        ts_us,
        rng.choice(list(Category)).value,
        "test.entry",
        rng.choice(list(Severity)).value,
        rng.choice(ACTORS),
        rng.choice(["Desk strip on", "Porch off", "100% bright", "key a_b", "Küche an", "ГОСТИНАЯ"])
        + f" #{n}",
        entity_type,
        entity_id,
        None,
        "{}",
    )


def _filter_cases(conn: sqlite3.Connection) -> list[ActivityLogFilters]:
    f = ActivityLogFilters
    cases = [
        f(),
        f(categories=(Category.AUTH,)),
        f(categories=(Category.DEVICE, Category.SYSTEM), severities=(Severity.ERROR,)),
        f(actor="tablet"),
        f(entity_type="device", entity_id="d2"),
        f(entity_id="t1", actor="admin"),
        f(message_like="porch"),
        f(message_like="a_b", categories=(Category.ENTITY,)),
        f(message_like="KÜCHE"),
        f(message_like="гостиная", severities=(Severity.INFO, Severity.ERROR)),
    ]
    low, high = repo.seq_bounds(conn)
    if low is not None:
        sql = "SELECT ts FROM activity_log WHERE seq >= ? LIMIT 1"
        moment = from_us(conn.execute(sql, ((low + high) // 2,)).fetchone()[0])
        cases += [f(since=moment, actor="system"), f(until=moment, categories=(Category.AUTH,))]
    return cases


def _brute_force(conn: sqlite3.Connection, filters: ActivityLogFilters) -> list[tuple]:
    """Every matching row, newest first, filtered in Python."""
    out = []
    for row in conn.execute(f"SELECT {COLUMNS} FROM activity_log ORDER BY seq DESC"):
        _, _, ts, category, _, severity, actor, message, entity_type, entity_id, *_ = row
        checks = [
            not filters.categories or category in filters.categories,
            not filters.severities or severity in filters.severities,
            filters.actor is None or actor == filters.actor,
            filters.entity_type is None or entity_type == filters.entity_type,
            filters.entity_id is None or entity_id == filters.entity_id,
            filters.since is None or from_us(ts) >= filters.since,
            filters.until is None or from_us(ts) <= filters.until,
            not filters.message_like or filters.message_like.lower() in message.lower(),
        ]
        if all(checks):
            out.append(row)
    return out


def _walk(conn: sqlite3.Connection, filters: ActivityLogFilters, limit: int) -> list[tuple]:
    """Every page through page_rows, following resume points the way the route's cursor does."""
    span = live_range(conn, filters)
    rows, before = [], None
    while True:
        page, resume = activity_query.page_rows(conn, filters, span, limit, before)
        assert len(page) <= limit
        rows += page
        if resume is None:
            return rows
        before = resume


def _check_against_brute_force(conn: sqlite3.Connection) -> None:
    for filters in _filter_cases(conn):
        expected = _brute_force(conn, filters)
        total, exact = activity_query.total_for(conn, filters)
        assert exact
        assert total == len(expected), filters
        assert _walk(conn, filters, limit=7) == expected, filters
    stats = activity_query.stats(conn)
    everything = conn.execute("SELECT category, severity FROM activity_log").fetchall()
    assert stats["total"] == len(everything)
    assert stats["by_category"] == dict(Counter(c for c, _ in everything))
    assert stats["by_severity"] == dict(Counter(s for _, s in everything))


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 rows, so a few hundred rows cross dozens of block edges."""
    monkeypatch.setattr(activity_counts, "BLOCK_SHIFT", 4)
    monkeypatch.setattr(activity_counts, "BLOCK", 16)


def test_inserts_prunes_and_clears_keep_every_total_and_page_exact(tmp_path, small_blocks):
    rng = random.Random(11)
    db = Database(tmp_path / "a.db")
    db.open()
    n, ts = 0, 1_700_000_000_000_000
    sealed_seen = 0
    sealed = "SELECT count(DISTINCT block) FROM activity_log_counts"
    try:
        for _ in range(80):
            action = rng.random()
            if action < 0.65:
                batch = []
                for _ in range(rng.randint(1, 40)):
                    n, ts = n + 1, ts + rng.randint(0, 3) * 1_000_000
                    batch.append(_row(rng, n, ts))
                db.write_blocking(repo.insert_rows, batch)
            elif action < 0.97:
                db.write_blocking(repo.prune_oldest, rng.randint(1, 20))
            else:
                db.write_blocking(repo.clear)
            db.read_blocking(_check_against_brute_force)
            blocks = db.read_blocking(lambda c: c.execute(sealed).fetchone()[0])
            sealed_seen = max(sealed_seen, blocks)
        assert sealed_seen > 10  # the sums really came from sealed blocks
    finally:
        db.close()


def test_a_pruned_away_log_starts_over_without_stale_counts(tmp_path, small_blocks):
    rng = random.Random(3)
    db = Database(tmp_path / "a.db")
    db.open()
    try:
        db.write_blocking(repo.insert_rows, [_row(rng, i, 10**15 + i) for i in range(1, 50)])
        db.write_blocking(repo.prune_oldest, 100)  # everything
        counts = "SELECT count(*) FROM activity_log_counts"
        assert db.read_blocking(lambda c: c.execute(counts).fetchone()[0]) == 0
        db.write_blocking(repo.insert_rows, [_row(rng, i, 10**15 + i) for i in range(1, 40)])
        # The chain goes on: seqs continue after the pruned ones, they never start over.
        assert db.read_blocking(repo.seq_bounds) == (50, 88)
        db.read_blocking(_check_against_brute_force)
    finally:
        db.close()


def test_real_block_size_totals_come_from_the_counts(tmp_path):
    """Three real blocks (16,384 rows each): the two completed ones are sealed, and totals
    and stats still equal a brute-force count."""
    rng = random.Random(8)
    db = Database(tmp_path / "a.db")
    db.open()
    try:
        rows = [_row(rng, i, 10**15 + i) for i in range(1, 2 * activity_counts.BLOCK + 500)]
        for start in range(0, len(rows), 5000):
            db.write_blocking(repo.insert_rows, rows[start : start + 5000])
        db.write_blocking(repo.prune_oldest, 1000)  # block 0 becomes an edge again
        blocks = db.read_blocking(
            lambda c: c.execute("SELECT DISTINCT block FROM activity_log_counts").fetchall()
        )
        assert blocks == [(0,), (1,)]
        db.read_blocking(_check_against_brute_force)
    finally:
        db.close()


def test_migration_seals_the_blocks_an_older_log_already_completed(tmp_path, small_blocks):
    path = tmp_path / "old.db"
    older = Database(path, migrations=MIGRATIONS[:3])
    older.open()
    rng = random.Random(4)
    rows = [_row(rng, i, 10**15 + i) for i in range(1, 100)]
    insert = "INSERT INTO activity_log VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    older.write_blocking(lambda c: c.executemany(insert, rows))
    older.close()
    db = Database(path)
    db.open()
    try:
        blocks = db.read_blocking(
            lambda c: c.execute("SELECT count(DISTINCT block) FROM activity_log_counts").fetchone()
        )
        assert blocks[0] == 99 // 16  # every completed block (0..5); 96..99 is still open
        db.read_blocking(_check_against_brute_force)
    finally:
        db.close()


def test_a_text_search_reads_a_bounded_window_and_resumes_below_it(tmp_path, monkeypatch):
    monkeypatch.setattr(activity_query, "SCAN_ROWS", 50)
    rng = random.Random(9)
    db = Database(tmp_path / "a.db")
    db.open()
    try:
        rows = [_row(rng, i, 10**15 + i) for i in range(1, 400)]
        rows[10] = (*rows[10][:6], "needle far back", *rows[10][7:])
        rows[300] = (*rows[300][:6], "needle recent", *rows[300][7:])
        db.write_blocking(repo.insert_rows, rows)
        filters = ActivityLogFilters(message_like="needle")
        total, exact = db.read_blocking(activity_query.total_for, filters)
        assert (total, exact) == (0, False)  # the newest 50 rows hold no needle
        span = db.read_blocking(live_range, filters)
        page, resume = db.read_blocking(activity_query.page_rows, filters, span, 10)
        assert page == [] and resume == 400 - 50
        assert [r[7] for r in db.read_blocking(_walk, filters, 10)] == [
            "needle recent",
            "needle far back",
        ]
    finally:
        db.close()
