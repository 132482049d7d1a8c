"""Per-block entry counts ("sealed blocks"): exact filtered totals and sparse pages without
scanning the activity log.

The log's seqs are cut into blocks of BLOCK rows. Once the newest seq passes the end of a
block, that block's rows are counted once per (category, severity, actor, entity_type,
entity_id) into `activity_log_counts` and never touched again: rows only ever leave from the
old end, so a block that is still wholly present holds exactly the rows that were counted. A
count over a seq range sums the sealed blocks inside it and scans only the two partial blocks
at its edges (at most 2 x BLOCK rows).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from ledgrab.storage.data_migrations import run_script

__all__ = [
    "BLOCK",
    "block_seqs",
    "blocks_with_matches",
    "create_counts_schema",
    "forget_pruned_blocks",
    "group_sealed",
    "seal_completed_blocks",
    "split_range",
    "sum_sealed",
]

# 16,384 rows: at 1,000,000 entries that is 61 blocks, so a sum reads a few thousand count rows
# while an edge scan reads at most 16,383 log rows (~3 ms). Sealing one block costs one scan of
# it and one write of its count rows, ~14 kB (+1.1 bytes written per entry, WAL included, in
# flash_writes.py), instead of the dirty page per commit that counts kept current on every
# insert would cost (flash wear).
BLOCK_SHIFT = 14
BLOCK = 1 << BLOCK_SHIFT


def create_counts_schema(conn: sqlite3.Connection) -> None:
    """Migration 4: the table, then the blocks the existing log has already completed."""
    run_script(
        conn,
        """
        CREATE TABLE activity_log_counts (
            block INTEGER NOT NULL,
            category TEXT NOT NULL,
            severity TEXT NOT NULL,
            actor TEXT NOT NULL,
            entity_type TEXT NOT NULL,  -- '' where the entry has none
            entity_id TEXT NOT NULL,    -- '' where the entry has none
            n INTEGER NOT NULL,
            PRIMARY KEY (block, category, severity, actor, entity_type, entity_id)
        ) WITHOUT ROWID;
        """,
    )
    newest = conn.execute("SELECT max(seq) FROM activity_log").fetchone()[0]
    seal_completed_blocks(conn, 0, newest or 0)


def seal_completed_blocks(conn: sqlite3.Connection, newest_before: int, newest_after: int) -> None:
    """Count every block that the insert taking the newest seq from `newest_before` to
    `newest_after` completed. Call inside the inserting transaction."""
    for block in range((newest_before + 1) >> BLOCK_SHIFT, (newest_after + 1) >> BLOCK_SHIFT):
        first = block << BLOCK_SHIFT
        conn.execute(
            "INSERT OR REPLACE INTO activity_log_counts "
            "SELECT ?, category, severity, actor, ifnull(entity_type, ''), ifnull(entity_id, ''), "
            "count(*) FROM activity_log WHERE seq BETWEEN ? AND ? GROUP BY 2, 3, 4, 5, 6",
            (block, first, first + BLOCK - 1),
        )


def forget_pruned_blocks(conn: sqlite3.Connection) -> None:
    """Drop the counts of blocks whose rows are all gone (all of them once the log is empty).
    Seqs never restart, even after a clear (the chain goes on), so a block once sealed is only
    ever dropped, never sealed again with other rows."""
    oldest = conn.execute("SELECT seq FROM activity_log ORDER BY seq LIMIT 1").fetchone()
    if oldest is None:
        conn.execute("DELETE FROM activity_log_counts")
    else:
        conn.execute("DELETE FROM activity_log_counts WHERE block < ?", (oldest[0] >> BLOCK_SHIFT,))


def block_seqs(block: int) -> tuple[int, int]:
    """The first and last seq of a block."""
    return block << BLOCK_SHIFT, ((block + 1) << BLOCK_SHIFT) - 1


def split_range(low: int, high: int) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """Seqs low..high -> (the sealed blocks wholly inside, as first..last block, or None; the
    seq ranges left over at the edges, which have to be scanned). `high` must not be above the
    newest seq, so every whole block inside is complete. Edges come oldest first."""
    first = (low + BLOCK - 1) >> BLOCK_SHIFT
    last = ((high + 1) >> BLOCK_SHIFT) - 1
    if first > last:
        return None, [(low, high)] if low <= high else []
    edges = [(low, (first << BLOCK_SHIFT) - 1), ((last + 1) << BLOCK_SHIFT, high)]
    return (first, last), [(a, b) for a, b in edges if a <= b]


def sum_sealed(
    conn: sqlite3.Connection, blocks: tuple[int, int], where: str, params: Sequence[Any]
) -> int:
    """Rows counted in sealed blocks first..last that match `where` (over the count columns)."""
    sql = f"SELECT sum(n) FROM activity_log_counts WHERE block BETWEEN ? AND ?{where}"
    return conn.execute(sql, [*blocks, *params]).fetchone()[0] or 0


def group_sealed(
    conn: sqlite3.Connection, blocks: tuple[int, int], column: str
) -> Iterator[tuple[str, int]]:
    """(value of `column`, rows) over sealed blocks first..last."""
    sql = (
        f"SELECT {column}, sum(n) FROM activity_log_counts WHERE block BETWEEN ? AND ? "
        f"GROUP BY {column}"
    )
    yield from conn.execute(sql, blocks)


def blocks_with_matches(
    conn: sqlite3.Connection, blocks: tuple[int, int], where: str, params: Sequence[Any]
) -> list[int]:
    """The sealed blocks among first..last holding at least one row that matches, newest first."""
    sql = (
        "SELECT DISTINCT block FROM activity_log_counts WHERE block BETWEEN ? AND ?"
        f"{where} ORDER BY block DESC"
    )
    return [row[0] for row in conn.execute(sql, [*blocks, *params])]
