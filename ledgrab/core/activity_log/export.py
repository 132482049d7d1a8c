"""Activity export bodies: CSV (RFC 4180, formula-safe), JSON array, NDJSON; streamed in chunks."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from ledgrab.core.activity_log.clock_steps import ClockSteps, corrected_fields
from ledgrab.storage.activity_log import (
    ActivityLogFilters,
    ActivityLogRepository,
    ChainedEntry,
)

__all__ = [
    "FIELDS",
    "FORMATS",
    "ExportedEntry",
    "csv_cell",
    "encode_chunk",
    "export_filename",
    "export_stream",
]

FORMATS = {
    # Litestar appends "; charset=utf-8" to a text/* type itself.
    "csv": ("text/csv", "csv"),
    "json": ("application/json", "json"),
    "ndjson": ("application/x-ndjson", "ndjson"),
}


class ExportedEntry(ChainedEntry, frozen=True, kw_only=True):
    """An exported entry: the 11 fields, seq and chain (what `ledgrab verify --from-export`
    checks), then the clock as read (clock_steps.corrected_fields), which the chain does not
    cover because it is derived, not stored."""

    clock_synchronised: bool | None = None
    ts_corrected: datetime | None = None


FIELDS = ExportedEntry.__struct_fields__
# Rows per read and per chunk sent: memory stays flat whatever the size of the log.
CHUNK_ROWS = 500
# A spreadsheet treats a cell as a formula when it starts with one of these, also after leading
# blanks, and some also read the full-width forms (OWASP "CSV Injection"); a leading tab or CR
# can carry one across a cell boundary, so those cells are neutralised as well.
_FORMULA_START = re.compile("[ \t\r\n]*[=+\\-@\uff1d\uff0b\uff0d\uff20]|[\t\r]")
_encoder = msgspec.json.Encoder()


def export_filename(extension: str) -> str:
    return f"ledgrab-activity-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.{extension}"


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = value if isinstance(value, str) else _encoder.encode(value).decode()
    return "'" + text if _FORMULA_START.match(text) else text


def _csv_chunk(entries: list[ExportedEntry], header: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(FIELDS)
    for entry in entries:
        writer.writerow([csv_cell(getattr(entry, name)) for name in FIELDS])
    return buffer.getvalue().encode()


def _exported(entry: ChainedEntry, steps: ClockSteps) -> ExportedEntry:
    synced, corrected = corrected_fields(entry, steps)
    return ExportedEntry(
        **msgspec.structs.asdict(entry), clock_synchronised=synced, ts_corrected=corrected
    )


async def export_stream(db: Any, filters: ActivityLogFilters, fmt: str) -> AsyncIterator[bytes]:
    """The export body in chunks of CHUNK_ROWS entries, newest first. Each chunk is read and
    encoded in one call on a reader thread: encoding 500 rows as CSV takes several ms, which on
    the event loop would hold back every frame due meanwhile."""
    steps = ClockSteps()  # read from the file being exported (the server's or a copy)
    await db.read(steps.load_blocking)
    if fmt == "json":
        yield b"["
    _, newest = await db.read(ActivityLogRepository.seq_bounds)
    before, first, count = (None if newest is None else newest + 1), True, CHUNK_ROWS
    while before is not None and count == CHUNK_ROWS:
        body, before, count = await db.read(_read_encoded, filters, before, fmt, first, steps)
        if body:
            yield body
            first = False
    if first and fmt == "csv":
        yield encode_chunk([], fmt, True)
    if fmt == "json":
        yield b"]"


def _read_encoded(
    conn: Any, filters: ActivityLogFilters, before: int, fmt: str, first: bool, steps: ClockSteps
) -> tuple[bytes, int | None, int]:
    """(the encoded chunk below seq `before`, the seq the next one continues below, rows read)."""
    entries = ActivityLogRepository.fetch_chained(conn, filters, CHUNK_ROWS, before)
    if not entries:
        return b"", None, 0
    exported = [_exported(entry, steps) for entry in entries]
    return encode_chunk(exported, fmt, first), entries[-1].seq, len(entries)


def encode_chunk(entries: list[ExportedEntry], fmt: str, first: bool) -> bytes:
    """One chunk of the body; `first` adds the CSV header and leaves out the JSON comma."""
    if fmt == "csv":
        return _csv_chunk(entries, header=first)
    if fmt == "ndjson":
        return b"".join(_encoder.encode(e) + b"\n" for e in entries)
    body = b",".join(_encoder.encode(e) for e in entries)
    return body if first else b"," + body
