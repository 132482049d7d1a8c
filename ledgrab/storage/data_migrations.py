"""Ordered schema migrations: each runs in its own transaction and records PRAGMA user_version."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "Migration",
    "SchemaTooNewError",
    "latest_version",
    "migrate",
    "refuse_newer",
    "run_script",
    "schema_version",
    "stored_schema_version",
]

# PRAGMA application_id marks a file as LedGrab's ("LEDG"), so a restore can refuse other programs'.
APPLICATION_ID = 0x4C454447


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer LedGrab than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute statements one by one: executescript() would COMMIT the migration's transaction."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        # A ';' inside a string literal or trigger body does not end the statement.
        if sqlite3.complete_statement(statement):
            if statement.strip(" \t\n;"):
                conn.execute(statement)
            statement = ""
    statement = statement[:-1]  # the ';' appended after the last piece
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement.strip()[:80]}")


def _foundation(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    run_script(
        conn,
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE api_keys (
            label TEXT PRIMARY KEY,
            key_hash BLOB NOT NULL,
            hint TEXT NOT NULL,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    )


def _entities(conn: sqlite3.Connection) -> None:
    """Devices, sources, targets: each row's config column holds the entity's JSON; a target's
    references are real columns, so SQLite itself refuses a delete that would orphan it."""
    run_script(
        conn,
        """
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            config TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            config TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE targets (
            id TEXT PRIMARY KEY,
            device_id TEXT NOT NULL REFERENCES devices (id),
            source_id TEXT NOT NULL REFERENCES sources (id),
            config TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX targets_by_device ON targets (device_id);
        CREATE INDEX targets_by_source ON targets (source_id);
        """,
    )


# Versions are fixed once shipped: add new migrations at the end, never edit an old one.
def _activity_log(conn: sqlite3.Connection) -> None:
    from ledgrab.storage.activity_log import create_activity_log_schema

    create_activity_log_schema(conn)


def _activity_counts(conn: sqlite3.Connection) -> None:
    from ledgrab.storage.activity_counts import create_counts_schema

    create_counts_schema(conn)


def _activity_chain(conn: sqlite3.Connection) -> None:
    from ledgrab.storage.activity_chain import create_chain_schema

    create_chain_schema(conn)


def _capture_fallback_effect(conn: sqlite3.Connection) -> None:
    """Capture sources stored before the typed contract named their fallback effect in two
    fields (`fallback_kind`, `fallback_params`); it is one nested effect now. Without this, such
    a source would no longer load after an upgrade."""
    rows = conn.execute("SELECT id, config FROM sources").fetchall()
    for source_id, text in rows:
        config = json.loads(text)
        params = config.get("params")
        if config.get("kind") != "capture" or not isinstance(params, dict):
            continue
        if "fallback_kind" not in params and "fallback_params" not in params:
            continue
        kind = params.pop("fallback_kind", "rainbow")
        effect_params = params.pop("fallback_params", None) or {}
        params["fallback_effect"] = {"kind": kind, "params": effect_params}
        conn.execute(
            "UPDATE sources SET config = ? WHERE id = ?",
            (json.dumps(config, ensure_ascii=False, separators=(",", ":")), source_id),
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "settings and api keys", _foundation),
    Migration(2, "activity log", _activity_log),
    Migration(3, "devices, sources and targets", _entities),
    Migration(4, "activity log block counts", _activity_counts),
    Migration(5, "activity log hash chain", _activity_chain),
    Migration(6, "capture fallback as one typed effect", _capture_fallback_effect),
)


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    return max((m.version for m in migrations), default=0)


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def stored_schema_version(path: str | os.PathLike[str]) -> int:
    """The schema version of the file at `path`, read without writing to it (0 when missing)."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    wal = path.with_name(path.name + "-wal")
    # A -wal left by a power cut may hold the newest version: read through it (read-only never
    # checkpoints). Without one, immutable creates no -wal or -shm beside the file.
    mode = "ro" if wal.exists() and wal.stat().st_size else "ro&immutable=1"
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True)
    try:
        return schema_version(conn)
    finally:
        conn.close()


def refuse_newer(
    path: str | os.PathLike[str], migrations: Sequence[Migration] = MIGRATIONS
) -> None:
    """Raise SchemaTooNewError when the file at `path` is a newer LedGrab's; reads only."""
    _check_version(stored_schema_version(path), migrations, f"{path}: ")


def _check_version(current: int, migrations: Sequence[Migration], where: str = "") -> None:
    if current > latest_version(migrations):
        raise SchemaTooNewError(
            f"{where}database schema version {current} is newer than this LedGrab supports "
            f"({latest_version(migrations)}): it was written by a newer LedGrab; nothing was "
            "changed. Install that version again (or restore a backup made by this one)"
        )


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the migrations newer than the file's version; return the versions applied.

    `conn` must have isolation_level=None. A failing migration is rolled back and re-raised,
    leaving the file at the last version that completed.
    """
    current = schema_version(conn)
    _check_version(current, migrations)
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration.apply(conn)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
        current = migration.version
    return applied
