"""check_backup_file: decide whether a file is a LedGrab database this LedGrab can restore."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import msgspec

from ledgrab.core.backup.schema_match import expected_schema, read_schema, schema_mismatches
from ledgrab.storage.data_migrations import (
    APPLICATION_ID,
    MIGRATIONS,
    Migration,
    latest_version,
    migrate,
    schema_version,
)
from ledgrab.storage.faults import StorageFaultError, storage_fault

__all__ = [
    "REQUIRED_TABLES",
    "BackupInfo",
    "BackupRejected",
    "check_backup_file",
    "prepare_for_use",
    "raise_card_fault",
]

_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100
# Tables every LedGrab database has had since schema version 1.
REQUIRED_TABLES = ("settings", "api_keys")
# integrity_check stops after this many problems: enough to show what is wrong, bounded.
_MAX_PROBLEMS = 5
# How many objects outside LedGrab's schema a refusal names; the rest are counted.
_SHOWN_OBJECTS = 6


class BackupRejected(ValueError):
    """The file cannot be restored; `kind` names why, the message says it for a person."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class BackupInfo(msgspec.Struct, frozen=True):
    size_bytes: int
    schema_version: int
    latest_version: int
    tables: list[str]


def _header_checks(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise BackupRejected("empty", "the file is empty")
    with path.open("rb") as handle:
        header = handle.read(_HEADER_SIZE)
    if not header.startswith(_MAGIC[: min(len(header), len(_MAGIC))]):
        raise BackupRejected("not_sqlite", "the file is not an SQLite database (no SQLite header)")
    if len(header) < _HEADER_SIZE:
        raise BackupRejected(
            "truncated", f"the file is truncated: {size} bytes, not even a whole SQLite header"
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise BackupRejected("corrupt", f"the SQLite header is damaged (page size {page_size})")
    if size % page_size:
        raise BackupRejected(
            "truncated",
            f"the file is truncated: {size} bytes is not a whole number of {page_size}-byte pages",
        )
    pages = int.from_bytes(header[28:32], "big")
    # The header's page count is only valid when written by SQLite 3.7+ with matching counters.
    counter_ok = header[24:28] == header[92:96]
    if counter_ok and pages and size < pages * page_size:
        raise BackupRejected(
            "truncated",
            f"the file is truncated: its header says {pages * page_size} bytes, it has {size}",
        )


def _problems(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(f"PRAGMA integrity_check({_MAX_PROBLEMS})").fetchall()
    return [] if rows == [("ok",)] else [str(r[0]) for r in rows]


def _open_read_only(path: Path) -> sqlite3.Connection:
    # immutable: no -wal/-shm is looked for or created, nothing is written beside the file.
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    # The file's views, triggers and indexes may name functions; none of them may run here.
    conn.execute("PRAGMA trusted_schema = OFF")
    return conn


def _foreign_objects(
    conn: sqlite3.Connection, version: int, migrations: Sequence[Migration]
) -> None:
    problems = schema_mismatches(read_schema(conn), expected_schema(version, migrations))
    if problems:
        more = len(problems) - _SHOWN_OBJECTS
        raise BackupRejected(
            "unexpected_schema",
            "the file holds objects that are not part of LedGrab's schema, so none of it is "
            "used: "
            + "; ".join(problems[:_SHOWN_OBJECTS])
            + (f"; and {more} more" if more > 0 else ""),
        )


def check_backup_file(path: str | Path, migrations: Sequence[Migration] = MIGRATIONS) -> BackupInfo:
    """Raise BackupRejected (kind: empty, not_sqlite, truncated, not_ledgrab, corrupt, too_new,
    unexpected_schema) unless `path` is an intact LedGrab database no newer than `migrations`
    whose schema is exactly LedGrab's at its version. Reads only.

    The schema is compared before anything reads the data: integrity_check evaluates index
    expressions, and only LedGrab's own may be evaluated.
    """
    path = Path(path)
    _header_checks(path)
    latest = latest_version(migrations)
    try:
        conn = _open_read_only(path)
    except sqlite3.Error as exc:
        raise BackupRejected("not_sqlite", f"the file cannot be opened by SQLite: {exc}") from None
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = sorted(
            r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
        )
        if app_id != APPLICATION_ID:
            shown = ", ".join(tables[:8]) or "none"
            raise BackupRejected(
                "not_ledgrab",
                f"the file is an SQLite database from another program, not LedGrab's "
                f"(application_id {app_id:#010x}; tables: {shown})",
            )
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            raise BackupRejected(
                "corrupt", f"the LedGrab database lacks its tables: {', '.join(missing)}"
            )
        version = schema_version(conn)
        if version > latest:
            raise BackupRejected(
                "too_new",
                f"the backup comes from a newer LedGrab (schema version {version}; this one "
                f"reads up to {latest}): update LedGrab first, then restore",
            )
        _foreign_objects(conn, version, migrations)
        problems = _problems(conn)
        if problems:
            raise BackupRejected("corrupt", "the database is corrupt: " + "; ".join(problems)[:500])
        broken = conn.execute("PRAGMA foreign_key_check").fetchmany(_MAX_PROBLEMS)
        if broken:
            shown = "; ".join(f"a row of {r[0]} names a missing {r[2]} entry" for r in broken)
            raise BackupRejected("corrupt", f"the database has broken references: {shown}")
    except sqlite3.DatabaseError as exc:
        raise BackupRejected("corrupt", f"the database is corrupt: {exc}") from None
    finally:
        conn.close()
    return BackupInfo(path.stat().st_size, version, latest, tables)


def prepare_for_use(path: str | Path, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Migrate a checked private copy to the current schema, as one file without a -wal beside
    it; return the versions applied. A failure raises BackupRejected("migration_failed")."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        return migrate(conn, migrations)
    except sqlite3.Error as exc:
        raise_card_fault(exc, path, "the backup could not be upgraded on this card")
        raise BackupRejected(
            "migration_failed", f"the backup could not be upgraded to this LedGrab: {exc}"
        ) from None
    finally:
        conn.close()


def raise_card_fault(exc: sqlite3.Error, path: str | Path, doing: str) -> None:
    """Raise StorageFaultError when `exc` is the card's fault (full, read-only, I/O), not the
    file's; a corrupt file, or any other error, returns so the caller can refuse the backup."""
    if (fault := storage_fault(exc, path)) is not None and fault.kind != "corrupt":
        raise StorageFaultError(fault, doing) from exc
