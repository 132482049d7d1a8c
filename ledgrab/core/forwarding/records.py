"""What a forwarder sends: an entry as read from the log (with its seq and full chain value), or
an explicit gap (entries removed before they could be sent)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import msgspec

from ledgrab.storage.activity_chain import entries_after
from ledgrab.storage.activity_log import (
    ActivityLogRepository,
    ChainedEntry,
    Severity,
    entry_from_row,
)

__all__ = ["Gap", "Outgoing", "read_batch", "to_chained"]


class Gap(msgspec.Struct, frozen=True):
    """Entries first..last (seqs) were removed from the log before this forwarder sent them."""

    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


Outgoing = ChainedEntry | Gap
SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.CRITICAL: 3}


def to_chained(row: Sequence[Any]) -> ChainedEntry:
    """A row from `entries_after` (seq, 11 stored fields, full chain) -> the exported shape."""
    entry = entry_from_row(row[:12])
    return ChainedEntry(
        **msgspec.structs.asdict(entry), seq=row[0], chain=base64.b64encode(row[12]).decode()
    )


def read_batch(conn: Any, after: int, limit: int) -> tuple[int | None, list[tuple]]:
    """(newest seq held, up to `limit` rows after `after`), in one read transaction so the two
    agree. The forwarder's own read: `entries_after` plus the head for its lag figure."""
    conn.execute("BEGIN")
    try:
        newest = ActivityLogRepository.seq_bounds(conn)[1]
        return newest, entries_after(conn, after, limit)
    finally:
        conn.execute("COMMIT")
