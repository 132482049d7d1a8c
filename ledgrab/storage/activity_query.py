"""The list route's reads with bounded work per request: a keyset page, its total, the stats.

Totals over category, severity, actor and entity come from the sealed-block counts
(`activity_counts`) and are exact. Neither a page nor a text-search count reads more than
SCAN_ROWS log rows: a page that runs out of that budget comes back short, with a cursor that
continues where it stopped, and a text search counts matches among the newest SCAN_ROWS
entries in range (then `total_exact` is false).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import sqlite3
from collections.abc import Sequence
from typing import Any

from ledgrab.storage.activity_counts import (
    block_seqs,
    blocks_with_matches,
    group_sealed,
    split_range,
    sum_sealed,
)
from ledgrab.storage.activity_log import (
    COLUMNS,
    ActivityLogFilters,
    ActivityLogPage,
    column_filter,
    entry_from_row,
    from_us,
    live_range,
    row_filter,
    unicode_text_search,
)

__all__ = [
    "SCAN_ROWS",
    "InvalidCursorError",
    "count_matches",
    "decode_cursor",
    "encode_cursor",
    "page_rows",
    "read_page",
    "stats",
    "total_for",
]

# About 20 ms of LIKE over the log on the 2-core benchmark machine (query.py), so a first page
# that counts and reads at once stays under 50 ms; a Pi 4 needs a few times longer.
SCAN_ROWS = 100_000


def _budget(filters: ActivityLogFilters) -> int:
    """Rows one request may read: half for a non-ASCII text search, which tries up to four
    case variants of its needle on every row."""
    return SCAN_ROWS // 2 if unicode_text_search(filters) else SCAN_ROWS


class InvalidCursorError(ValueError):
    """A pagination cursor that this server did not hand out."""


def encode_cursor(before_seq: int, total: int | None = None, exact: bool = True) -> str:
    """Continue below `before_seq`; carries the first page's total so later pages skip it."""
    text = f"a1:{before_seq}"
    if total is not None:
        text += f":{total}:{int(exact)}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int | None, bool]:
    """(seq to continue below, the first page's total if carried, whether it is exact)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, *numbers = raw.split(":")
        if prefix != "a1" or len(numbers) not in (1, 2, 3):
            raise ValueError
        if not all(n.isdigit() and n.isascii() for n in numbers):
            raise ValueError
        before = int(numbers[0])
        total = int(numbers[1]) if len(numbers) > 1 else None
        if len(numbers) == 3 and numbers[2] not in ("0", "1"):
            raise ValueError
        return before, total, len(numbers) < 3 or numbers[2] == "1"
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursorError("cursor is not one this server handed out") from None


def _uses_counts(filters: ActivityLogFilters) -> bool:
    # The counts keep '' for "no entity", so an empty-string filter has to read the rows.
    return "" not in (filters.actor, filters.entity_type, filters.entity_id)


def total_for(conn: sqlite3.Connection, filters: ActivityLogFilters) -> tuple[int, bool]:
    """count_matches over the whole log (what a first page reports), on one connection."""
    return count_matches(conn, filters, live_range(conn, filters))


def _scan_count(
    conn: sqlite3.Connection, low: int, high: int, where: str, params: Sequence[Any]
) -> int:
    sql = f"SELECT count(*) FROM activity_log WHERE seq BETWEEN ? AND ?{where}"
    return conn.execute(sql, [low, high, *params]).fetchone()[0]


def count_matches(
    conn: sqlite3.Connection, filters: ActivityLogFilters, span: tuple[int, int] | None
) -> tuple[int, bool]:
    """(matches in the seq range `span`, whether that number is exact)."""
    if span is None:
        return 0, True
    low, high = span
    if filters.message_like:
        start = max(low, high - _budget(filters) + 1)
        where, params = row_filter(filters)
        return _scan_count(conn, start, high, where, params), start == low
    where, params = column_filter(filters)
    if not where:
        return high - low + 1, True
    if not _uses_counts(filters):
        return _scan_count(conn, low, high, where, params), True
    sealed, edges = split_range(low, high)
    total = sum_sealed(conn, sealed, where, params) if sealed else 0
    total += sum(_scan_count(conn, a, b, where, params) for a, b in edges)
    return total, True


def _ranges_newest_first(
    conn: sqlite3.Connection, filters: ActivityLogFilters, low: int, high: int
) -> list[tuple[int, int]]:
    """Seq ranges to read for low..high, newest first, leaving out the sealed blocks whose
    counts say nothing in them matches."""
    where, params = column_filter(filters)
    if not where or not _uses_counts(filters):
        return [(low, high)]
    sealed, edges = split_range(low, high)
    if sealed is None:
        return edges[::-1]
    inner = [block_seqs(b) for b in blocks_with_matches(conn, sealed, where, params)]
    above = [edge for edge in edges if edge[0] > block_seqs(sealed[1])[1]]
    below = [edge for edge in edges if edge[1] < block_seqs(sealed[0])[0]]
    return above + inner + below


def page_rows(
    conn: sqlite3.Connection,
    filters: ActivityLogFilters,
    span: tuple[int, int] | None,
    limit: int,
    before_seq: int | None = None,
) -> tuple[list[tuple], int | None]:
    """Up to `limit` rows (COLUMNS order) with seq < before_seq in `span`, newest first,
    reading at most SCAN_ROWS rows; and the seq the next page continues below (None at the
    end). A page cut short by the read budget still gets one."""
    if span is None:
        return [], None
    low, high = span
    if before_seq is not None:
        high = min(high, before_seq - 1)
    if low > high:
        return [], None
    where, params = row_filter(filters)
    sql = (
        f"SELECT {COLUMNS} FROM activity_log WHERE seq BETWEEN ? AND ?{where} "
        "ORDER BY seq DESC LIMIT ?"
    )
    rows: list[tuple] = []
    budget = _budget(filters)
    for first, last in _ranges_newest_first(conn, filters, low, high):
        if budget <= 0:
            return rows, last + 1
        start = max(first, last - budget + 1)
        rows += conn.execute(sql, [start, last, *params, limit + 1 - len(rows)]).fetchall()
        if len(rows) > limit:
            return rows[:limit], rows[limit - 1][0]
        budget -= last - start + 1
        if start > first:
            return rows, start
    return rows, None


def stats(conn: sqlite3.Connection) -> dict[str, Any]:
    """Counts per category and severity (sealed blocks + edge scans), time span, file size."""
    oldest = conn.execute("SELECT seq, ts FROM activity_log ORDER BY seq LIMIT 1").fetchone()
    newest = conn.execute("SELECT seq, ts FROM activity_log ORDER BY seq DESC LIMIT 1").fetchone()
    by_column: dict[str, dict[str, int]] = {"category": {}, "severity": {}}
    if oldest is not None and newest is not None:
        sealed, edges = split_range(oldest[0], newest[0])
        for column, counts in by_column.items():
            parts = list(group_sealed(conn, sealed, column)) if sealed else []
            for a, b in edges:
                parts += conn.execute(
                    f"SELECT {column}, count(*) FROM activity_log WHERE seq BETWEEN ? AND ? "
                    f"GROUP BY {column}",
                    (a, b),
                ).fetchall()
            for value, n in parts:
                counts[value] = counts.get(value, 0) + n
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return {
        "total": 0 if oldest is None else newest[0] - oldest[0] + 1,
        "by_category": by_column["category"],
        "by_severity": by_column["severity"],
        "oldest": None if oldest is None else from_us(oldest[1]),
        "newest": None if newest is None else from_us(newest[1]),
        "database_bytes": pages * page_size,
        "database_free_bytes": free * page_size,
    }


async def read_page(
    db: Any, filters: ActivityLogFilters, limit: int = 50, cursor: str | None = None
) -> ActivityLogPage:
    """One page, newest first. Keyset over seq: entries that arrive while a client pages get
    higher seqs, so they neither shift nor repeat what the cursor still has to see. The first
    page counts its total on a second reader, beside the page read, over the same seq range;
    the cursor carries it to later pages."""
    before, total, exact = decode_cursor(cursor) if cursor else (None, None, True)
    span = await db.read(live_range, filters)
    reading = db.read(page_rows, filters, span, limit, before)
    if total is None:
        (rows, resume), (total, exact) = await asyncio.gather(
            reading, db.read(count_matches, filters, span)
        )
    else:
        rows, resume = await reading
    return ActivityLogPage(
        items=[entry_from_row(r) for r in rows],
        next_cursor=None if resume is None else encode_cursor(resume, total, exact),
        total=total,
        total_exact=exact,
    )
