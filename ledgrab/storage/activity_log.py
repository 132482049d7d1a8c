"""Activity log storage: the entry, its filters, the row codec and the keyset-paged repository."""

from __future__ import annotations

import base64
import binascii
import enum
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from ledgrab.storage.data_migrations import run_script

__all__ = [
    "COLUMNS",
    "ActivityLogEntry",
    "ActivityLogFilters",
    "ActivityLogPage",
    "ActivityLogRepository",
    "Category",
    "InvalidCursorError",
    "Severity",
    "create_activity_log_schema",
    "decode_cursor",
    "encode_cursor",
    "entry_from_row",
    "from_us",
    "to_us",
]


class Category(enum.StrEnum):
    ENTITY = "entity"
    AUTH = "auth"
    DEVICE = "device"
    SYSTEM = "system"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class ActivityLogEntry(msgspec.Struct, frozen=True):
    """One entry, the 11 fields of the public contract in their order."""

    id: str
    ts: datetime
    category: Category
    action: str
    severity: Severity
    actor: str
    message: str
    entity_type: str | None = None
    entity_id: str | None = None
    entity_name: str | None = None
    metadata: dict[str, Any] = {}


class ActivityLogFilters(msgspec.Struct, frozen=True, kw_only=True):
    """All optional; set filters combine with AND, list values within one filter with OR."""

    categories: tuple[Category, ...] | None = None
    severities: tuple[Severity, ...] | None = None
    actor: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # inclusive
    message_like: str | None = None  # plain substring; % and _ match themselves


class ActivityLogPage(msgspec.Struct):
    items: list[ActivityLogEntry]
    next_cursor: str | None
    total: int


class InvalidCursorError(ValueError):
    """A pagination cursor that this server did not hand out."""


# Row layout: `seq` first (the storage order, never exposed), then the 11 entry fields. Times are
# integer microseconds since the epoch (8 bytes a row instead of a 32-character string).
COLUMNS = (
    "seq, id, ts, category, action, severity, actor, message, "
    "entity_type, entity_id, entity_name, metadata"
)
_INSERT = (
    "INSERT INTO activity_log (id, ts, category, action, severity, actor, message, "
    "entity_type, entity_id, entity_name, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_metadata_decoder = msgspec.json.Decoder(dict[str, Any])


def create_activity_log_schema(conn: sqlite3.Connection) -> None:
    """Migration 2. Every index is written on every commit, so each one has to earn its place
    (figures from benchmarks/query.py and flash_writes.py on 1,000,000 rows, see
    docs/activity-log.md)."""
    run_script(
        conn,
        """
        CREATE TABLE activity_log (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            ts INTEGER NOT NULL,
            category TEXT NOT NULL,
            action TEXT NOT NULL,
            severity TEXT NOT NULL,
            actor TEXT NOT NULL,
            message TEXT NOT NULL,
            entity_type TEXT,
            entity_id TEXT,
            entity_name TEXT,
            metadata TEXT NOT NULL DEFAULT '{}'
        );
        -- The only secondary index. GET /activity/{id}: 0.03 ms with it, 1,260 ms scanning
        -- 1,000,000 rows. Its cost (flash_writes.py, 100 entries/s, 5 s commits): 567 instead
        -- of 471 bytes written per entry (2.93x instead of 2.43x the payload). Ids start with
        -- the time, so inserts append at its right edge. No index on category, severity,
        -- actor or entity: first pages come off the primary key fast enough (query.py), and
        -- each such index would add ~1 dirty page per commit per distinct value. Time
        -- filters need none: ts grows with seq, so since/until become seq bounds.
        CREATE UNIQUE INDEX activity_log_id ON activity_log (id);
        """,
    )


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a time needs a UTC offset")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def entry_from_row(row: Sequence[Any]) -> ActivityLogEntry:
    """Row (in COLUMNS order) -> entry; a damaged metadata cell becomes {} rather than a 500."""
    try:
        metadata = _metadata_decoder.decode(row[11])
    except (msgspec.DecodeError, TypeError):
        metadata = {}
    return ActivityLogEntry(
        id=row[1],
        ts=from_us(row[2]),
        category=Category(row[3]),
        action=row[4],
        severity=Severity(row[5]),
        actor=row[6],
        message=row[7],
        entity_type=row[8],
        entity_id=row[9],
        entity_name=row[10],
        metadata=metadata,
    )


def encode_cursor(seq: int, total: int | None = None) -> str:
    text = f"a1:{seq}" if total is None else f"a1:{seq}:{total}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int | None]:
    """(seq to continue below, the total counted for the first page, if carried)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, *numbers = raw.split(":")
        if prefix != "a1" or not 1 <= len(numbers) <= 2 or not all(n.isdigit() for n in numbers):
            raise ValueError
        return int(numbers[0]), int(numbers[1]) if len(numbers) == 2 else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursorError("cursor is not one this server handed out") from None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _first_seq_at_or_after(conn: sqlite3.Connection, ts_us: int) -> int | None:
    """Binary search over seq: the recorder keeps ts non-decreasing in seq order, so a time is
    a seq boundary, found with ~20 primary-key probes instead of a scan or a ts index."""
    low, high = ActivityLogRepository.seq_bounds(conn)
    if low is None or high is None:
        return None
    found = None
    while low <= high:
        middle = (low + high) // 2
        row = conn.execute(
            "SELECT seq, ts FROM activity_log WHERE seq >= ? ORDER BY seq LIMIT 1", (middle,)
        ).fetchone()
        if row is None or row[1] >= ts_us:
            found = row[0] if row is not None else found
            high = middle - 1
        else:
            low = row[0] + 1
    return found


def _seq_range(conn: sqlite3.Connection, filters: ActivityLogFilters) -> tuple[int, int] | None:
    """The seq range holding since..until (inclusive); None when no time filter is set."""
    if filters.since is None and filters.until is None:
        return None
    low, high = ActivityLogRepository.seq_bounds(conn)
    if low is None or high is None:
        return (1, 0)
    if filters.since is not None:
        start = _first_seq_at_or_after(conn, to_us(filters.since))
        low = high + 1 if start is None else start
    if filters.until is not None:
        after = _first_seq_at_or_after(conn, to_us(filters.until) + 1)
        high = high if after is None else after - 1
    return (low, high)


def _where(
    filters: ActivityLogFilters,
    before_seq: int | None = None,
    seq_range: tuple[int, int] | None = None,
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if seq_range is not None:
        clauses.append("seq BETWEEN ? AND ?")
        params.extend(seq_range)
    if filters.categories:
        clauses.append(f"category IN ({','.join('?' * len(filters.categories))})")
        params.extend(str(c) for c in filters.categories)
    if filters.severities:
        clauses.append(f"severity IN ({','.join('?' * len(filters.severities))})")
        params.extend(str(s) for s in filters.severities)
    for column in ("actor", "entity_type", "entity_id"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if filters.since is not None:
        clauses.append("ts >= ?")
        params.append(to_us(filters.since))
    if filters.until is not None:
        clauses.append("ts <= ?")
        params.append(to_us(filters.until))
    if filters.message_like:
        clauses.append("message LIKE ? ESCAPE '\\'")
        params.append(f"%{_escape_like(filters.message_like)}%")
    if before_seq is not None:
        clauses.append("seq < ?")
        params.append(before_seq)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_NO_FILTERS = ActivityLogFilters()


class ActivityLogRepository:
    """SQL over the activity_log table. Write methods take the writer's connection inside its
    transaction; read methods take a read connection (run them through `Database.read`)."""

    # -- writes (writer thread, inside a transaction) ----------------------------------------

    @staticmethod
    def insert_rows(conn: sqlite3.Connection, rows: Iterable[Sequence[Any]]) -> None:
        """Rows are (id, ts_us, category, action, severity, actor, message, entity_type,
        entity_id, entity_name, metadata_json)."""
        conn.executemany(_INSERT, rows)

    @staticmethod
    def prune_oldest(
        conn: sqlite3.Connection,
        limit: int,
        *,
        through_seq: int | None = None,
        before_us: int | None = None,
    ) -> int:
        """Delete rows among the `limit` oldest (by seq): those with seq <= through_seq, or ts <
        before_us, or all of them when neither is given; return how many went. Looking only at
        the oldest `limit` keeps every call bounded: an entry stamped by a clock that stepped
        back waits until it reaches the old end."""
        condition, params = "", []
        if through_seq is not None:
            condition, params = " AND seq <= ?", [through_seq]
        elif before_us is not None:
            condition, params = " AND ts < ?", [before_us]
        cursor = conn.execute(
            "DELETE FROM activity_log WHERE seq IN "
            f"(SELECT seq FROM activity_log ORDER BY seq LIMIT ?){condition}",
            [limit, *params],
        )
        return cursor.rowcount

    @staticmethod
    def clear(conn: sqlite3.Connection) -> int:
        return conn.execute("DELETE FROM activity_log").rowcount

    @staticmethod
    def seq_bounds(conn: sqlite3.Connection) -> tuple[int | None, int | None]:
        """(oldest seq, newest seq): two index probes, not a scan."""
        low = conn.execute("SELECT seq FROM activity_log ORDER BY seq LIMIT 1").fetchone()
        high = conn.execute("SELECT seq FROM activity_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (low and low[0], high and high[0])

    @staticmethod
    def newest_ts(conn: sqlite3.Connection) -> int | None:
        row = conn.execute("SELECT ts FROM activity_log ORDER BY seq DESC LIMIT 1").fetchone()
        return row and row[0]

    @staticmethod
    def oldest_ts(conn: sqlite3.Connection) -> int | None:
        row = conn.execute("SELECT ts FROM activity_log ORDER BY seq LIMIT 1").fetchone()
        return row and row[0]

    # -- reads -------------------------------------------------------------------------------

    @staticmethod
    def get(conn: sqlite3.Connection, entry_id: str) -> ActivityLogEntry | None:
        row = conn.execute(f"SELECT {COLUMNS} FROM activity_log WHERE id = ?", (entry_id,))
        found = row.fetchone()
        return None if found is None else entry_from_row(found)

    @staticmethod
    def count(conn: sqlite3.Connection, filters: ActivityLogFilters) -> int:
        seq_range = _seq_range(conn, filters)
        only_time = msgspec.structs.replace(filters, since=None, until=None) == _NO_FILTERS
        if only_time:
            # Rows only ever leave from the old end, so the seqs held are contiguous: a count
            # over a seq range is its width (a scan of 1,000,000 rows takes ~100 ms).
            if seq_range is None:
                low, high = ActivityLogRepository.seq_bounds(conn)
                return 0 if low is None or high is None else high - low + 1
            return max(0, seq_range[1] - seq_range[0] + 1)
        where, params = _where(filters, seq_range=seq_range)
        return conn.execute(f"SELECT count(*) FROM activity_log{where}", params).fetchone()[0]

    @staticmethod
    def fetch_rows(
        conn: sqlite3.Connection,
        filters: ActivityLogFilters,
        limit: int,
        before_seq: int | None = None,
    ) -> list[tuple]:
        """Up to `limit` raw rows, newest first, with seq < before_seq."""
        where, params = _where(filters, before_seq, _seq_range(conn, filters))
        sql = f"SELECT {COLUMNS} FROM activity_log{where} ORDER BY seq DESC LIMIT ?"
        return conn.execute(sql, [*params, limit]).fetchall()

    @classmethod
    def query(
        cls,
        conn: sqlite3.Connection,
        filters: ActivityLogFilters,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ActivityLogPage:
        """One page, newest first. Keyset over seq: entries that arrive while a client pages
        get higher seqs, so they neither shift nor repeat what the cursor still has to see.
        `total` is counted for the first page and carried in the cursor: a filtered count
        scans the log, and it describes the same snapshot the pages walk through."""
        before, total = decode_cursor(cursor) if cursor else (None, None)
        rows = cls.fetch_rows(conn, filters, limit + 1, before)
        more = len(rows) > limit
        rows = rows[:limit]
        if total is None:
            total = cls.count(conn, filters)
        next_cursor = encode_cursor(rows[-1][0], total) if more and rows else None
        return ActivityLogPage(
            items=[entry_from_row(r) for r in rows], next_cursor=next_cursor, total=total
        )

    @classmethod
    async def iter_export(
        cls, db: Any, filters: ActivityLogFilters, chunk: int = 1000
    ) -> AsyncIterator[ActivityLogEntry]:
        """Every matching entry, newest first, `chunk` rows per read: memory stays constant
        however large the log. Entries recorded after the export began are not included."""
        _, newest = await db.read(cls.seq_bounds)
        if newest is None:
            return
        before = newest + 1
        while True:
            rows = await db.read(cls.fetch_rows, filters, chunk, before)
            for row in rows:
                yield entry_from_row(row)
            if len(rows) < chunk:
                return
            before = rows[-1][0]

    @staticmethod
    def stats(conn: sqlite3.Connection) -> dict[str, Any]:
        by_category = dict(
            conn.execute("SELECT category, count(*) FROM activity_log GROUP BY category")
        )
        by_severity = dict(
            conn.execute("SELECT severity, count(*) FROM activity_log GROUP BY severity")
        )
        oldest = conn.execute("SELECT ts FROM activity_log ORDER BY seq LIMIT 1").fetchone()
        newest = conn.execute("SELECT ts FROM activity_log ORDER BY seq DESC LIMIT 1").fetchone()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        return {
            "total": sum(by_category.values()),
            "by_category": by_category,
            "by_severity": by_severity,
            "oldest": None if oldest is None else from_us(oldest[0]),
            "newest": None if newest is None else from_us(newest[0]),
            "database_bytes": pages * page_size,
            "database_free_bytes": free * page_size,
        }
