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
    ActivityLogEntry,
    ActivityLogFilters,
    ActivityLogRepository,
    ChainedEntry,
)

__all__ = ["FIELDS", "FORMATS", "ExportedEntry", "csv_cell", "export_filename", "export_stream"]

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


def _csv_chunk(entries: list[ActivityLogEntry], header: bool) -> bytes:
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
    chunk: list[ActivityLogEntry] = []
    first = True
    steps = ClockSteps()  # read from the file being exported (the server's or a copy)
    await db.read(steps.load_blocking)
    if fmt == "json":
        yield b"["
    async for entry in ActivityLogRepository.iter_export(db, filters, CHUNK_ROWS):
        chunk.append(_exported(entry, steps))
        if len(chunk) >= CHUNK_ROWS:
            yield _encode(chunk, fmt, first)
            chunk, first = [], False
    if chunk or (first and fmt == "csv"):
        yield _encode(chunk, fmt, first)
    if fmt == "json":
        yield b"]"


def _encode(entries: list[ActivityLogEntry], fmt: str, first: bool) -> bytes:
    if fmt == "csv":
        return _csv_chunk(entries, header=first)
    if fmt == "ndjson":
        return b"".join(_encoder.encode(e) + b"\n" for e in entries)
    body = b",".join(_encoder.encode(e) for e in entries)
    return body if first else b"," + body
