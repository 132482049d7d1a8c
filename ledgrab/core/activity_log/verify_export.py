"""verify_export: check a JSON, NDJSON or CSV export (or a database file) the way
verify_database checks the database it came from."""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import msgspec

from ledgrab.core.activity_log.signing import PublicKey
from ledgrab.core.activity_log.verify import (
    VerifyResult,
    _external,
    _Fail,
    read_checkpoint,
    verify_database,
    walk_chain,
)
from ledgrab.storage.activity_log import ChainedEntry, to_us

__all__ = ["ExportFormatError", "verify_export"]

_SQLITE = b"SQLite format 3\x00"
# Cells a CSV export prefixed with ' so that a spreadsheet does not run them as formulas.
_NEUTRALISED = ("'=", "'+", "'-", "'@", "'\t", "'\r")
_NULLABLE = ("entity_type", "entity_id", "entity_name")
_encode = msgspec.json.Encoder().encode


class ExportFormatError(ValueError):
    """The file is not an export LedGrab can read; the message says where."""


def _row(entry: ChainedEntry) -> tuple:
    try:
        value = base64.b64decode(entry.chain, validate=True)
    except (binascii.Error, ValueError):
        value = b""
    return (
        entry.seq,
        entry.id,
        to_us(entry.ts),
        entry.category.value,
        entry.action,
        entry.severity.value,
        entry.actor,
        entry.message,
        entry.entity_type,
        entry.entity_id,
        entry.entity_name,
        _encode(entry.metadata).decode(),
        value,
    )


def _csv_entries(text: str) -> Iterator[ChainedEntry]:
    """CSV cells back to entries: an empty entity cell is null, a neutralised cell loses its
    quote (an entry whose text really began with `'=` cannot be told apart: see the docs)."""
    for number, cells in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
        try:
            for name, value in cells.items():
                if value.startswith(_NEUTRALISED):
                    cells[name] = value[1:]
            for name in _NULLABLE:
                cells[name] = cells[name] or None
            cells["metadata"] = msgspec.json.decode(cells["metadata"])
            cells["seq"] = int(cells["seq"])
            cells["ts"] = datetime.fromisoformat(cells["ts"])
            yield msgspec.convert(cells, ChainedEntry)
        except (KeyError, TypeError, ValueError, msgspec.ValidationError) as exc:
            raise ExportFormatError(f"CSV line {number}: {exc}") from None


def _entries(data: bytes) -> list[ChainedEntry]:
    start = data.lstrip()[:1]
    try:
        if start == b"[":
            return msgspec.json.decode(data, type=list[ChainedEntry])
        if start == b"{":
            lines = data.splitlines()
            return [msgspec.json.decode(line, type=ChainedEntry) for line in lines if line.strip()]
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ExportFormatError(f"not a LedGrab export with seq and chain: {exc}") from None
    return list(_csv_entries(data.decode("utf-8-sig")))


def verify_export(
    path: str | Path,
    *,
    keys: list[PublicKey] | None = None,
    checkpoint: str | None = None,
) -> VerifyResult:
    """Verify an unfiltered export (newest first or oldest first). An export holds no anchor:
    a checkpoint whose `anchor` line names the export's first seq anchors it; otherwise its
    oldest entry is taken as given and everything after it is checked. A database file (a
    backup) is handed to verify_database."""
    path = Path(path)
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE)) == _SQLITE:
            return verify_database(path, keys=keys, checkpoint=checkpoint)
    rows = sorted((_row(e) for e in _entries(path.read_bytes())), key=lambda r: r[0])
    if not rows:
        return VerifyResult(ok=True, notes=["the export holds no entries"])
    try:
        return _verify_rows(rows, keys or [], checkpoint)
    except _Fail as failed:
        return VerifyResult(ok=False, failure=failed.failure)


def _verify_rows(rows: list[tuple], keys: list[PublicKey], checkpoint: str | None):
    low, high = rows[0][0], rows[-1][0]
    expected: dict[int, tuple[bytes, str]] = {}
    notes: list[str] = []
    anchored, used, signed = None, [], (None, None)
    start: tuple[int, bytes] | None = None
    if checkpoint is not None:
        if not keys:
            raise _Fail(0, "a checkpoint can only be checked against a public key: --public-key")
        try:
            given = read_checkpoint(checkpoint, keys)
        except ValueError as exc:
            raise _Fail(0, f"the checkpoint given does not verify: {exc}") from None
        used.append(given.key)
        _external(given, low, high, expected, notes)
        if given.seq == low - 1:
            start, anchored = (low - 1, given.chain), "by the checkpoint given"
        elif given.anchor is not None and given.anchor[0] == low:
            start, anchored = (low - 1, given.anchor[1]), "by the checkpoint given"
        signed = (given.seq, given.time)
    first = rows
    if start is None:
        if len(rows[0][12]) != 32:
            raise _Fail(low, "the export's oldest entry carries no full chain value")
        start, first = (low, rows[0][12]), rows[1:]
        notes.append(f"not anchored: #{low} is taken as given")
        for seq, (value, label) in expected.items():
            if seq == low and value != rows[0][12]:
                raise _Fail(low, f"the chain differs from {label}")
    count, last, value = walk_chain([first], start, expected)
    count += len(rows) - len(first)
    return VerifyResult(
        ok=True,
        entries=count,
        first_seq=low,
        last_seq=last,
        head_chain=base64.b64encode(value).decode(),
        anchored=anchored,
        signed_seq=signed[0],
        signed_at=signed[1],
        unsigned=last - signed[0] if signed[0] is not None else count,
        keys=used,
        notes=notes,
    )
