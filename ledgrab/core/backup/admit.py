"""admit_backup(): the one way a database file from outside becomes a LedGrab database here.

A file is never used as it is. It is read only, its schema must be exactly LedGrab's at its
version (check_backup_file), and then a fresh file is built by LedGrab's own migrations and
given the rows of the known tables, column by column. Nothing of the file's own SQL runs or
stays: no trigger, view, index, pragma or free-page leftover comes along.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from pathlib import Path

import msgspec

from ledgrab.core.backup.check import (
    BackupInfo,
    BackupRejected,
    check_backup_file,
    prepare_for_use,
    raise_card_fault,
)
from ledgrab.core.backup.schema_match import expected_schema, read_schema, schema_mismatches
from ledgrab.storage.data_migrations import MIGRATIONS, Migration, migrate, schema_version
from ledgrab.storage.database import set_file_format

__all__ = ["AdmittedBackup", "admit_backup", "copy_into_fresh", "foreign_objects"]


class AdmittedBackup(msgspec.Struct, frozen=True):
    info: BackupInfo
    migrated_to: list[int]


def _read_only_uri(path: str | Path) -> str:
    # immutable: nothing (no -wal, no -shm) is created beside the file, nothing written to it.
    return f"{Path(path).resolve().as_uri()}?mode=ro&immutable=1"


def foreign_objects(path: str | Path, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """What the file at `path` holds beyond or instead of LedGrab's schema at its own version
    (one line each; empty when it is exactly LedGrab's). Reads only the schema."""
    conn = sqlite3.connect(_read_only_uri(path), uri=True)
    try:
        conn.execute("PRAGMA trusted_schema = OFF")
        found, version = read_schema(conn), schema_version(conn)
    finally:
        conn.close()
    return schema_mismatches(found, expected_schema(version, migrations))


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT name, pk, type, hidden FROM main.pragma_table_xinfo(?)", (table,)
    ).fetchall()
    columns = [name for name, _pk, _type, hidden in rows if hidden == 0]
    keys = [kind for _name, pk, kind, _hidden in rows if pk]
    flags = conn.execute("SELECT wr FROM main.pragma_table_list(?)", (table,)).fetchone()
    is_alias = len(keys) == 1 and str(keys[0]).upper() == "INTEGER"
    if flags is not None and not flags[0] and not is_alias:
        columns.insert(0, "rowid")  # keep row ids: other rows and exports may refer to them
    return columns


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _merge_sequences(conn: sqlite3.Connection, tables: Collection[str]) -> None:
    """AUTOINCREMENT counters never go back: keep the file's where it is ahead."""
    has = "SELECT 1 FROM {}.sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'"
    if not (
        conn.execute(has.format("main")).fetchone() and conn.execute(has.format("up")).fetchone()
    ):
        return
    for table in tables:
        row = conn.execute(
            "SELECT CAST(seq AS INTEGER) FROM up.sqlite_sequence WHERE name = ?", (table,)
        ).fetchone()
        if row is None or row[0] is None:
            continue
        conn.execute("DELETE FROM main.sqlite_sequence WHERE name = ? AND seq < ?", (table, row[0]))
        if not conn.execute(
            "SELECT 1 FROM main.sqlite_sequence WHERE name = ?", (table,)
        ).fetchone():
            conn.execute(
                "INSERT INTO main.sqlite_sequence (name, seq) VALUES (?, ?)", (table, row[0])
            )


def copy_into_fresh(
    source: str | Path,
    dest: str | Path,
    version: int,
    migrations: Sequence[Migration] = MIGRATIONS,
    *,
    skip: Collection[str] = (),
) -> list[str]:
    """Create `dest` at schema `version` with LedGrab's migrations and copy into it the rows of
    each of its tables (except `skip`) from `source`, opened read-only. Returns the tables
    copied. The caller has made sure those tables are defined in `source` as in `dest`.

    The tables come from the fresh file, so a table a new migration adds is carried along
    without anyone listing it here.
    """
    dest = Path(dest)
    dest.unlink(missing_ok=True)
    conn = sqlite3.connect(dest.resolve().as_uri(), uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA trusted_schema = OFF")
        set_file_format(conn)
        migrate(conn, [m for m in migrations if m.version <= version])
        conn.execute("ATTACH DATABASE ? AS up", (_read_only_uri(source),))
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM main.sqlite_schema WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
            ).fetchall()
            if name not in skip
        ]
        conn.execute("BEGIN")
        for table in tables:
            columns = ", ".join(_quote(c) for c in _columns(conn, table))
            # A migration may seed rows (the chain's first anchor): the file's rows replace them.
            conn.execute(f"DELETE FROM main.{_quote(table)}")
            conn.execute(
                f"INSERT INTO main.{_quote(table)} ({columns}) "
                f"SELECT {columns} FROM up.{_quote(table)}"
            )
        _merge_sequences(conn, tables)
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE up")
    except BaseException:
        conn.close()
        dest.unlink(missing_ok=True)
        raise
    conn.close()
    return tables


def admit_backup(
    source: str | Path, dest: str | Path, migrations: Sequence[Migration] = MIGRATIONS
) -> AdmittedBackup:
    """Check `source` (read only), rebuild it into `dest` and migrate `dest` to the current
    schema. Raises BackupRejected (the kinds of check_backup_file, rebuild_failed,
    migration_failed) or StorageFaultError (the card could not take `dest`); `dest` is then
    absent. `source` is never written."""
    info = check_backup_file(source, migrations)
    try:
        copy_into_fresh(source, dest, info.schema_version, migrations)
    except sqlite3.Error as exc:
        raise_card_fault(exc, dest, "the backup could not be rebuilt on this card")
        raise BackupRejected(
            "rebuild_failed", f"the backup's rows could not be copied into a fresh database: {exc}"
        ) from None
    try:
        applied = prepare_for_use(dest, migrations)
    except BaseException:
        Path(dest).unlink(missing_ok=True)
        raise
    return AdmittedBackup(info, applied)
