"""Activity log storage: the entry, its filters, the row codec and the keyset-paged repository."""

from __future__ import annotations

import base64
import enum
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from ledgrab.storage import activity_chain as chain
from ledgrab.storage.activity_counts import forget_pruned_blocks, seal_completed_blocks
from ledgrab.storage.data_migrations import run_script

__all__ = [
    "COLUMNS",
    "ActivityLogEntry",
    "ActivityLogFilters",
    "ActivityLogPage",
    "ActivityLogRepository",
    "Category",
    "ChainedEntry",
    "Severity",
    "column_filter",
    "create_activity_log_schema",
    "entry_from_row",
    "from_us",
    "live_range",
    "row_filter",
    "to_us",
    "unicode_text_search",
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


class ActivityLogEntry(msgspec.Struct, frozen=True, gc=False):
    """One entry, the 11 fields of the public contract in their order."""

    # gc=False: an entry is never part of a reference cycle (nothing it holds points back at
    # it), so the collector need not track one per record() call.

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


class ChainedEntry(ActivityLogEntry, frozen=True, kw_only=True):
    """An entry as exported: the 11 fields, then its seq and its chain value (base64), so an
    export can be verified on its own (`ledgrab verify --from-export`)."""

    seq: int
    chain: str


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
    """`total` counts every match unless `total_exact` is false: then a text search stopped
    counting after the newest SCAN_ROWS entries in range, and `total` is a lower bound."""

    items: list[ActivityLogEntry]
    next_cursor: str | None
    total: int
    total_exact: bool = True


# Row layout: `seq` first (the storage order, never exposed), then the 11 entry fields. Times are
# integer microseconds since the epoch (8 bytes a row instead of a 32-character string).
COLUMNS = (
    "seq, id, ts, category, action, severity, actor, message, "
    "entity_type, entity_id, entity_name, metadata"
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


def _now_us(now_us: int | None) -> int:
    return now_us if now_us is not None else to_us(datetime.now(UTC))


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


def live_range(conn: sqlite3.Connection, filters: ActivityLogFilters) -> tuple[int, int] | None:
    """The seqs held, narrowed to since..until (inclusive); None when that leaves nothing. Rows
    only ever leave from the old end, so the seqs held are one contiguous range."""
    low, high = ActivityLogRepository.seq_bounds(conn)
    if low is None or high is None:
        return None
    if filters.since is not None:
        start = _first_seq_at_or_after(conn, to_us(filters.since))
        low = high + 1 if start is None else start
    if filters.until is not None:
        after = _first_seq_at_or_after(conn, to_us(filters.until) + 1)
        high = high if after is None else after - 1
    return (low, high) if low <= high else None


def column_filter(filters: ActivityLogFilters) -> tuple[str, list[Any]]:
    """' AND ...' over category, severity, actor, entity_type and entity_id: the columns the log
    shares with its sealed-block counts."""
    clauses: list[str] = []
    params: list[Any] = []
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
    return "".join(f" AND {c}" for c in clauses), params


def unicode_text_search(filters: ActivityLogFilters) -> bool:
    """SQLite's LIKE folds the case of ASCII letters only; other needles need case variants."""
    return bool(filters.message_like) and not filters.message_like.isascii()


def _case_variants(needle: str) -> list[str]:
    if needle.isascii():
        return [needle]
    variants: list[str] = []
    for variant in (needle.lower(), needle.upper(), needle.capitalize(), needle.title()):
        if variant not in variants:
            variants.append(variant)
    return variants


def row_filter(filters: ActivityLogFilters) -> tuple[str, list[Any]]:
    """' AND ...' for every filter but time (a seq range stands for it). A needle with letters
    beyond ASCII is tried in lower case, upper case, capitalised and title case, so "küche"
    finds "KÜCHE" and "Küche" (LIKE itself folds A-Z only). Variants keep the match in SQLite's
    C code; a Python match function cost 3x as much per row and held the GIL."""
    where, params = column_filter(filters)
    if filters.message_like:
        needles = _case_variants(filters.message_like)
        likes = " OR ".join(["message LIKE ? ESCAPE '\\'"] * len(needles))
        where += f" AND ({likes})"
        params.extend(f"%{_escape_like(n)}%" for n in needles)
    return where, params


class ActivityLogRepository:
    """SQL over the activity_log table. Write methods take the writer's connection inside its
    transaction; read methods take a read connection (run them through `Database.read`).
    Filtered pages, totals and stats live in `activity_query`."""

    # -- writes (writer thread, inside a transaction) ----------------------------------------

    @staticmethod
    def insert_rows(conn: sqlite3.Connection, rows: Iterable[Sequence[Any]]) -> tuple[int, bytes]:
        """Rows are (id, ts_us, category, action, severity, actor, message, entity_type,
        entity_id, entity_name, metadata_json). Chains them after the head, seals the count
        blocks they complete, and returns the new head (seq, chain value)."""
        before = chain.head(conn)
        new_head = chain.append_rows(conn, rows, before)
        seal_completed_blocks(conn, before[0], new_head[0])
        return new_head

    @staticmethod
    def prune_oldest(
        conn: sqlite3.Connection,
        limit: int,
        *,
        through_seq: int | None = None,
        before_us: int | None = None,
        reason: str = "retention",
        signer: chain.Signer | None = None,
        now_us: int | None = None,
        age_us: Callable[[int, str], int | None] | None = None,
    ) -> int:
        """Delete the oldest rows, at most `limit`: those with seq <= through_seq, or the run of
        oldest rows with ts < before_us, or all `limit` when neither is given; leave an anchor
        (the first seq kept, the chain value before it, how many went, `reason`); return how
        many went. Looking only at the oldest `limit` keeps every call bounded: an entry stamped
        by a clock that stepped back waits until it reaches the old end. `age_us(ts, metadata)`,
        when given, is the time an age bound compares instead of ts (None: not known, kept)."""
        oldest = conn.execute(
            "SELECT seq, ts, metadata FROM activity_log ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        cut = None
        for seq, ts, metadata in oldest:
            if through_seq is not None:
                if seq > through_seq:
                    break
            elif before_us is not None:
                when = ts if age_us is None else age_us(ts, metadata)
                if when is None or when >= before_us:
                    break
            cut = seq
        if cut is None:
            return 0
        prev = chain.full_chain_at(conn, cut)
        removed = conn.execute("DELETE FROM activity_log WHERE seq <= ?", (cut,)).rowcount
        chain.write_anchor(conn, cut + 1, prev, removed, reason, _now_us(now_us), signer)
        forget_pruned_blocks(conn)
        return removed

    @staticmethod
    def clear(
        conn: sqlite3.Connection,
        *,
        signer: chain.Signer | None = None,
        now_us: int | None = None,
    ) -> int:
        """Empty the log; the chain goes on: an anchor at the next seq holds the head's value,
        and the entry written next (the clearing's own record) is the first after it."""
        seq, value = chain.head(conn)
        removed = conn.execute("DELETE FROM activity_log").rowcount
        chain.write_anchor(conn, seq + 1, value, removed, "clear", _now_us(now_us), signer)
        forget_pruned_blocks(conn)
        return removed

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
    def fetch_rows(
        conn: sqlite3.Connection,
        filters: ActivityLogFilters,
        limit: int,
        before_seq: int | None = None,
    ) -> list[tuple]:
        """Up to `limit` raw rows, newest first, with seq < before_seq. No bound on the rows it
        reads to find them: for export, not for request-sized pages."""
        span = live_range(conn, filters)
        if span is None:
            return []
        low, high = span
        if before_seq is not None:
            high = min(high, before_seq - 1)
        where, params = row_filter(filters)
        sql = (
            f"SELECT {COLUMNS} FROM activity_log WHERE seq BETWEEN ? AND ?{where} "
            "ORDER BY seq DESC LIMIT ?"
        )
        return conn.execute(sql, [low, high, *params, limit]).fetchall()

    @classmethod
    def fetch_chained(
        cls, conn: sqlite3.Connection, filters: ActivityLogFilters, limit: int, before_seq: int
    ) -> list[ChainedEntry]:
        """fetch_rows as exported entries, each with its full chain value."""
        rows = cls.fetch_rows(conn, filters, limit, before_seq)
        if not rows:
            return []
        values = chain.chain_values(conn, rows[-1][0], rows[0][0])
        return [
            ChainedEntry(
                **msgspec.structs.asdict(entry_from_row(row)),
                seq=row[0],
                chain=base64.b64encode(values[row[0]]).decode(),
            )
            for row in rows
        ]
