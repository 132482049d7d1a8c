"""Read your own writes: the list, its total, one entry and the stats include the entries the
recorder still holds (not yet committed), with the same filters, in the same order, each marked
`durable: false`, and paging stays exact when a commit lands between two pages. (The export
commits them first instead: it carries each entry's seq and chain value, which only a commit
gives.)

Why it is exact: the recorder's buffer is copied *before* the database is read, and an entry
leaves the buffer only after its commit. So every buffered entry is either already stored at or
below the newest seq this read sees (it is then read from the database and dropped from the
copy) or it is not (it is taken from the copy): never both, never neither. Buffered entries are
newer than every stored one (commits go in order), so they sit above the stored range.

Cursors: a page that ends among the stored entries hands out the storage cursor as before; one
that ends among the buffered entries hands out "below entry <id>". When that entry has been
committed in the meantime, the next page continues below its seq; while it still waits, with the
buffered entries older than it, then the stored ones from the newest down.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from ledgrab.core.activity_log.clock_steps import ClockSteps, corrected_fields
from ledgrab.storage import activity_query
from ledgrab.storage.activity_log import (
    ActivityLogEntry,
    ActivityLogFilters,
    ActivityLogRepository,
    _case_variants,
    entry_from_row,
    live_range,
    to_us,
)
from ledgrab.storage.activity_query import (
    InvalidCursorError,
    count_matches,
    decode_cursor,
    encode_cursor,
    page_rows,
)

__all__ = ["ListedEntry", "ListedPage", "get_entry", "read_page", "stats"]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ID_CHUNK = 500  # ids per `IN (...)`: well under SQLite's bound on host parameters


class ListedEntry(ActivityLogEntry, frozen=True, kw_only=True):
    """An entry as the API lists it: the 11 fields, whether it is on the card yet, and its
    clock (clock_steps.corrected_fields): `ts` stays the stored time; `ts_corrected` is set
    only for an entry made before its boot's clock was synchronised."""

    durable: bool = True
    clock_synchronised: bool | None = None
    ts_corrected: datetime | None = None


class ListedPage(msgspec.Struct):
    """As ActivityLogPage; items include entries still waiting to be committed."""

    items: list[ListedEntry]
    next_cursor: str | None
    total: int
    total_exact: bool = True


def _listed(entry: ActivityLogEntry, durable: bool, steps: ClockSteps | None) -> ListedEntry:
    synced, corrected = corrected_fields(entry, steps)
    return ListedEntry(
        **msgspec.structs.asdict(entry),
        durable=durable,
        clock_synchronised=synced,
        ts_corrected=corrected,
    )


def _entry(row: Sequence[Any]) -> ActivityLogEntry:
    """A buffered row (the insert layout: no seq) as an entry."""
    return entry_from_row((None, *row))


def matches(row: Sequence[Any], filters: ActivityLogFilters) -> bool:
    """The SQL filters of `row_filter` and `live_range`, over one buffered row."""
    _id, ts_us, category, _action, severity, actor, message, etype, eid = row[:9]
    if filters.categories and category not in filters.categories:
        return False
    if filters.severities and severity not in filters.severities:
        return False
    for wanted, value in ((filters.actor, actor), (filters.entity_type, etype),
                          (filters.entity_id, eid)):  # fmt: skip
        if wanted is not None and wanted != value:
            return False
    if filters.since is not None and ts_us < to_us(filters.since):
        return False
    if filters.until is not None and ts_us > to_us(filters.until):
        return False
    needle = filters.message_like
    if needle:
        if needle.isascii():  # SQLite's LIKE folds A-Z only
            return needle.translate(_ASCII_LOWER) in message.translate(_ASCII_LOWER)
        return any(variant in message for variant in _case_variants(needle))
    return True


def _stored_ids(conn: Any, ids: list[str], through_seq: int) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        found.update(
            row[0]
            for row in conn.execute(
                f"SELECT id FROM activity_log WHERE id IN ({','.join('?' * len(chunk))}) "
                "AND seq <= ?",
                [*chunk, through_seq],
            )
        )
    return found


async def _waiting(db: Any, buffered: list[tuple], through_seq: int | None) -> list[tuple]:
    """The buffered rows (copied before `through_seq` was read) not stored at or below it."""
    if not buffered or through_seq is None:
        return buffered
    stored = await db.read(_stored_ids, [row[0] for row in buffered], through_seq)
    return [row for row in buffered if row[0] not in stored] if stored else buffered


def _seq_of(conn: Any, entry_id: str) -> int | None:
    row = conn.execute("SELECT seq FROM activity_log WHERE id = ?", (entry_id,)).fetchone()
    return row and row[0]


def _encode_below(entry_id: str, total: int, exact: bool) -> str:
    text = f"p1:{entry_id}:{total}:{int(exact)}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str | None, int | None, int | None, bool]:
    """(buffered entry id to continue below, or stored seq to continue below, total, exact)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursorError("cursor is not one this server handed out") from None
    if not raw.startswith("p1:"):
        before, total, exact = decode_cursor(cursor)
        return None, before, total, exact
    parts = raw.split(":")
    if len(parts) != 4 or not parts[1].isalnum() or parts[3] not in ("0", "1"):
        raise InvalidCursorError("cursor is not one this server handed out")
    if not (parts[2].isdigit() and parts[2].isascii()):
        raise InvalidCursorError("cursor is not one this server handed out")
    return parts[1], None, int(parts[2]), parts[3] == "1"


async def read_page(
    db: Any,
    recorder: Any,
    filters: ActivityLogFilters,
    limit: int = 50,
    cursor: str | None = None,
    steps: ClockSteps | None = None,
) -> ListedPage:
    """One page, newest first, waiting entries first (see the module doc)."""
    below_id, before_seq, total, exact = _decode(cursor) if cursor else (None, None, None, True)
    buffered = recorder.unwritten()  # first: see the module doc
    span = await db.read(live_range, filters)
    waiting = await _waiting(db, buffered, span and span[1])
    waiting = [row for row in waiting if matches(row, filters)]
    if below_id is not None:
        position = next((i for i, row in enumerate(waiting) if row[0] == below_id), None)
        if position is None:  # committed since the last page: continue below its seq
            seq = await db.read(_seq_of, below_id)
            if seq is None:  # cleared meanwhile: nothing older is left to show
                return ListedPage(items=[], next_cursor=None, total=total or 0, total_exact=exact)
            waiting, before_seq = [], seq
        else:
            waiting = waiting[:position]
    elif before_seq is not None:
        waiting = []  # a storage cursor: everything waiting is newer than it
    if total is None:
        stored_total, exact = await db.read(count_matches, filters, span)
        total = stored_total + len(waiting)
    newest_first = waiting[::-1]
    items = [_listed(_entry(row), False, steps) for row in newest_first[:limit]]
    if len(items) == limit:  # the page ends among the waiting entries
        more = len(newest_first) > limit or span is not None
        below = _encode_below(items[-1].id, total, exact) if more else None
        return ListedPage(items, below, total, exact)
    rows, resume = await db.read(page_rows, filters, span, limit - len(items), before_seq)
    items += [_listed(entry_from_row(r), True, steps) for r in rows]
    return ListedPage(
        items=items,
        next_cursor=None if resume is None else encode_cursor(resume, total, exact),
        total=total,
        total_exact=exact,
    )


async def get_entry(
    db: Any, recorder: Any, entry_id: str, steps: ClockSteps | None = None
) -> ListedEntry | None:
    buffered = {row[0]: row for row in recorder.unwritten()}
    stored = await db.read(ActivityLogRepository.get, entry_id)
    if stored is not None:
        return _listed(stored, True, steps)
    row = buffered.get(entry_id)
    return None if row is None else _listed(_entry(row), False, steps)


def _stats_and_newest(conn: Any) -> tuple[dict[str, Any], int | None]:
    conn.execute("BEGIN")  # one snapshot for both: a commit between them would count twice
    try:
        return activity_query.stats(conn), ActivityLogRepository.seq_bounds(conn)[1]
    finally:
        conn.execute("COMMIT")


async def stats(db: Any, recorder: Any) -> dict[str, Any]:
    """activity_query.stats with the waiting entries counted in."""
    buffered = recorder.unwritten()
    figures, newest_seq = await db.read(_stats_and_newest)
    waiting = await _waiting(db, buffered, newest_seq)
    for row in waiting:
        for key, value in (("by_category", row[2]), ("by_severity", row[4])):
            figures[key][value] = figures[key].get(value, 0) + 1
    if waiting:
        figures["total"] += len(waiting)
        figures["newest"] = _entry(waiting[-1]).ts
        figures["oldest"] = figures["oldest"] or _entry(waiting[0]).ts
    return figures
