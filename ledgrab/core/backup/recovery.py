"""open_database(): open the live database, quarantining a corrupt file and starting fresh."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import msgspec

from ledgrab.core.backup.db_files import DataDirLock, move_aside, prune_aside
from ledgrab.core.backup.journal import note
from ledgrab.storage.database import Database

__all__ = [
    "OpenedDatabase",
    "StartupRecovery",
    "find_corruption",
    "open_database",
    "open_live_database",
    "record_recovery",
]

log = logging.getLogger("ledgrab.backup")
_MAGIC = b"SQLite format 3\x00"


class StartupRecovery(msgspec.Struct, frozen=True):
    """What happened when the database file at startup was unusable."""

    quarantined: str  # where the corrupt file now is
    reason: str


def find_corruption(path: Path) -> str | None:
    """None when `path` is missing or passes quick_check; otherwise what is wrong with it.

    quick_check (not integrity_check) because it runs at every start: it reads every page but
    skips the index-vs-table cross checks, which is what makes a full check slow.
    """
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open("rb") as handle:
        if handle.read(len(_MAGIC)) != _MAGIC:
            return "the file is not an SQLite database"
    try:
        # Read-write on purpose: a -wal left by a power cut must be replayed to check the data.
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            rows = conn.execute("PRAGMA quick_check(5)").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"{type(exc).__name__}: {exc}"
    if rows != [("ok",)]:
        return "quick_check: " + "; ".join(str(r[0]) for r in rows)[:500]
    return None


def _quarantine(path: Path, reason: str, keep: int) -> StartupRecovery:
    aside = move_aside(path, "corrupt")
    prune_aside(path, "corrupt", keep)
    log.critical("the database was unusable (%s); moved to %s, starting fresh", reason, aside)
    return StartupRecovery(str(aside), reason)


def open_database(
    path: Path, keep_corrupt: int = 3
) -> tuple[Database, StartupRecovery | None, list[int]]:
    """Open `path`; if it is corrupt, move it aside (<name>.corrupt-<time>, the newest
    `keep_corrupt` kept) and open a fresh database. Returns the database, what recovery did
    (or None) and the migrations applied. Blocking: call from a thread.

    A file from a newer LedGrab is not corrupt: SchemaTooNewError propagates untouched.
    """
    recovery = None
    reason = find_corruption(path)
    if reason is None:
        db = Database(path)
        try:
            return db, None, db.open()
        except sqlite3.DatabaseError as exc:  # damage quick_check missed, met by a migration
            db.close()
            reason = f"{type(exc).__name__}: {exc}"
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
    lock.acquire(lock_wait_s)
    try:
        db, recovery, applied = open_database(data_dir / file_name, keep_corrupt)
    except BaseException:
        lock.release()
        raise
    return OpenedDatabase(db, lock, recovery, applied)


def record_recovery(recovery: StartupRecovery) -> None:
    """The `critical` entry in the fresh database; call once the activity recorder runs."""
    note(
        "database.recovered",
        f"the database was corrupt at startup and was replaced by an empty one; the old file "
        f"is kept at {recovery.quarantined} ({recovery.reason})",
        severity="critical",
        metadata={"quarantined": recovery.quarantined, "reason": recovery.reason},
    )
