"""open_database(): open the live database; set aside only what SQLite calls corrupt.

Three outcomes at startup, and only three:
- the file opens: it is used (after being rebuilt, should it hold objects that are not
  LedGrab's schema: the same check a restore makes);
- SQLite reports it corrupt (SQLITE_CORRUPT, SQLITE_NOTADB, or quick_check not ok on a file it
  could read): it is moved aside and a fresh database is created;
- anything else (a full or read-only card, an I/O error, no permission, a lock held elsewhere):
  DatabaseUnavailableError, and nothing is touched: no rename, no fresh file beside it.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import msgspec

from ledgrab.core.backup.admit import copy_into_fresh
from ledgrab.core.backup.db_files import DataDirLock, install_file, move_aside, prune_aside
from ledgrab.core.backup.journal import note
from ledgrab.core.backup.schema_match import expected_schema, read_schema, schema_mismatches
from ledgrab.storage.data_migrations import (
    MIGRATIONS,
    latest_version,
    refuse_newer,
    schema_version,
)
from ledgrab.storage.database import Database
from ledgrab.storage.faults import StorageFault, storage_fault

__all__ = [
    "DatabaseUnavailableError",
    "OpenedDatabase",
    "StartupRecovery",
    "find_corruption",
    "open_database",
    "open_live_database",
    "record_recovery",
]

log = logging.getLogger("ledgrab.backup")
_MAGIC = b"SQLite format 3\x00"


class DatabaseUnavailableError(RuntimeError):
    """The database could not be opened for a reason that is not damage; it was left alone."""

    def __init__(self, path: Path, fault: StorageFault) -> None:
        super().__init__(
            f"cannot open the database {path}: {fault.summary}. Nothing was changed; "
            "start again once that is fixed (under systemd it retries by itself)"
        )
        self.path, self.fault = path, fault


class StartupRecovery(msgspec.Struct, frozen=True):
    """What startup did to a database file it could not use as it was."""

    quarantined: str  # where the original file now is
    reason: str
    # "corrupt": set aside, a fresh database started; "foreign_schema": rebuilt, rows kept
    kind: str = "corrupt"


def _unavailable(path: Path, exc: BaseException) -> DatabaseUnavailableError | None:
    fault = storage_fault(exc, path)
    if fault is None or fault.kind == "corrupt":
        return None
    return DatabaseUnavailableError(path, fault)


def find_corruption(path: Path) -> str | None:
    """None when `path` is missing or passes quick_check; otherwise why SQLite finds it corrupt.
    Raises DatabaseUnavailableError when the file cannot be read for another reason.

    quick_check (not integrity_check) because it runs at every start: it reads every page but
    skips the index-vs-table cross checks, which is what makes a full check slow.
    """
    try:
        if not path.exists() or path.stat().st_size == 0:
            return None
        with path.open("rb") as handle:
            header = handle.read(len(_MAGIC))
    except OSError as exc:
        if (unavailable := _unavailable(path, exc)) is not None:
            raise unavailable from exc
        raise
    if header != _MAGIC:
        return "the file is not an SQLite database"
    try:
        # Read-write on purpose: a -wal left by a power cut must be replayed to check the data.
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            rows = conn.execute("PRAGMA quick_check(5)").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if (unavailable := _unavailable(path, exc)) is not None:
            raise unavailable from exc
        return f"{exc.sqlite_errorname}: {exc}"
    if rows != [("ok",)]:
        return "quick_check: " + "; ".join(str(r[0]) for r in rows)[:500]
    return None


def _refuse_newer(path: Path) -> None:
    try:
        refuse_newer(path)
    except (sqlite3.Error, OSError):
        return  # not readable as a database: find_corruption says why, or that it is unavailable


def _quarantine(path: Path, reason: str, keep: int) -> StartupRecovery:
    aside = move_aside(path, "corrupt")
    prune_aside(path, "corrupt", keep)
    log.critical(
        "SQLite reports the database corrupt (%s); moved to %s, starting fresh", reason, aside
    )
    return StartupRecovery(str(aside), reason)


def _rebuild_foreign(path: Path) -> StartupRecovery | None:
    """Rebuild the file when it holds objects that are not LedGrab's schema at its version: a
    fresh file gets the rows of every table defined as LedGrab's; the original is set aside."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        conn.execute("PRAGMA trusted_schema = OFF")
        found, version = read_schema(conn), schema_version(conn)
    finally:
        conn.close()
    if version > latest_version(MIGRATIONS):
        return None  # a newer LedGrab's file: Database.open refuses it as such
    expected = expected_schema(version)
    problems = schema_mismatches(found, expected)
    if not problems:
        return None
    skip = {
        name
        for (kind, name), obj in expected.items()
        if kind == "table" and found.get((kind, name)) != obj
    }
    rebuilt = path.with_name(f"{path.name}.rebuilding")
    copy_into_fresh(path, rebuilt, version, skip=skip)
    aside, _undo = install_file(rebuilt, path, "foreign")
    reason = "; ".join(problems)[:500]
    log.critical(
        "the database held objects outside LedGrab's schema (%s); rebuilt, the original is %s",
        reason,
        aside,
    )
    return StartupRecovery(str(aside), reason, kind="foreign_schema")


def open_database(
    path: Path, keep_corrupt: int = 3
) -> tuple[Database, StartupRecovery | None, list[int]]:
    """Open `path` as the module docstring says. Returns the database, what recovery did (or
    None) and the migrations applied. Blocking: call from a thread.

    A file from a newer LedGrab is not corrupt: SchemaTooNewError is raised before anything
    (the corruption check's read-write connection included) could write to it.
    """
    _refuse_newer(path)
    reason = find_corruption(path)
    recovery = None
    if reason is None:
        try:
            if path.exists() and path.stat().st_size:
                recovery = _rebuild_foreign(path)
            db = Database(path)
            try:
                return db, recovery, db.open()
            except BaseException:
                db.close()
                raise
        except (sqlite3.Error, OSError) as exc:
            if (unavailable := _unavailable(path, exc)) is not None:
                raise unavailable from exc
            if not isinstance(exc, sqlite3.Error) or storage_fault(exc) is None:
                raise
            reason = f"{exc.sqlite_errorname}: {exc}"  # damage quick_check missed
    recovery = _quarantine(path, reason, keep_corrupt)
    db = Database(path)
    return db, recovery, db.open()


class OpenedDatabase(msgspec.Struct, frozen=True):
    db: Database
    lock: DataDirLock
    recovery: StartupRecovery | None
    applied: list[int]  # migration versions applied on opening (1 in it: a new database)


def open_live_database(
    data_dir: Path, file_name: str, keep_corrupt: int = 3, lock_wait_s: float = 30.0
) -> OpenedDatabase:
    """The server's database: take the data-dir lock (a CLI restore may hold it for a moment),
    then open_database(). Blocking."""
    lock = DataDirLock(data_dir)
    try:
        lock.acquire(lock_wait_s)
    except OSError as exc:  # the lock file lives on the same card
        if (unavailable := _unavailable(data_dir / file_name, exc)) is not None:
            raise unavailable from exc
        raise
    try:
        db, recovery, applied = open_database(data_dir / file_name, keep_corrupt)
    except BaseException:
        lock.release()
        raise
    return OpenedDatabase(db, lock, recovery, applied)


def record_recovery(recovery: StartupRecovery) -> None:
    """The `critical` entry naming the file set aside; call first once the recorder runs."""
    if recovery.kind == "corrupt":
        action = "database.quarantined"
        message = (
            f"SQLite reported the database corrupt at startup; it was set aside as "
            f"{recovery.quarantined} and an empty database started ({recovery.reason})"
        )
    else:
        action = "database.rebuilt"
        message = (
            f"the database held objects outside LedGrab's schema, which were dropped; its rows "
            f"were copied into a fresh file and the original kept as {recovery.quarantined} "
            f"({recovery.reason})"
        )
    note(
        action,
        message,
        severity="critical",
        metadata={
            "quarantined": recovery.quarantined,
            "reason": recovery.reason,
            "kind": recovery.kind,
        },
    )
