"""Hostile changes to a real LedGrab database file: each plants one object a restore must refuse."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

__all__ = ["ATTACKS", "plant", "schema_objects"]


def _run(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def wipe_trigger(path: Path) -> None:
    """Each new entry deletes every entry of `alice`, and the restore's own entry."""
    _run(
        path,
        "CREATE TRIGGER wipe_alice AFTER INSERT ON activity_log BEGIN "
        "DELETE FROM activity_log WHERE actor = 'alice' OR action = 'restore.completed'; END",
    )


def key_resurrection(path: Path) -> None:
    """A revoked key comes straight back."""
    _run(
        path,
        "CREATE TRIGGER keep_keys AFTER DELETE ON api_keys BEGIN "
        "INSERT INTO api_keys VALUES (old.label, old.key_hash, old.hint, old.created_at); END",
    )


def activity_view(path: Path) -> None:
    """activity_log becomes a view; an INSTEAD OF trigger decides what is kept."""
    _run(
        path,
        "ALTER TABLE activity_log RENAME TO activity_log_real",
        "CREATE VIEW activity_log AS SELECT * FROM activity_log_real",
        "CREATE TRIGGER keep_quiet INSTEAD OF INSERT ON activity_log BEGIN "
        "INSERT INTO activity_log_real (id, ts, category, action, severity, actor, message) "
        "SELECT new.id, new.ts, new.category, new.action, new.severity, new.actor, new.message "
        "WHERE new.actor <> 'alice'; END",
    )


def extra_table(path: Path) -> None:
    _run(path, "CREATE TABLE notes (body TEXT)", "INSERT INTO notes VALUES ('hello')")


def extra_index(path: Path) -> None:
    _run(path, "CREATE INDEX by_actor ON activity_log (actor)")


def extra_view(path: Path) -> None:
    _run(path, "CREATE VIEW recent AS SELECT * FROM activity_log ORDER BY seq DESC LIMIT 10")


def changed_columns(path: Path) -> None:
    _run(path, "ALTER TABLE api_keys ADD COLUMN note TEXT")


# name: (plant it, what the refusal must name)
ATTACKS: dict[str, tuple[Callable[[Path], None], str]] = {
    "wipe_trigger": (wipe_trigger, "trigger 'wipe_alice'"),
    "key_resurrection": (key_resurrection, "trigger 'keep_keys'"),
    "activity_view": (activity_view, "view 'activity_log'"),
    "extra_table": (extra_table, "table 'notes'"),
    "extra_index": (extra_index, "index 'by_actor'"),
    "extra_view": (extra_view, "view 'recent'"),
    "changed_columns": (changed_columns, "table 'api_keys'"),
}


def plant(path: Path, attack: str) -> str:
    """Apply `attack` to the file at `path`; return the text its refusal must contain."""
    change, named = ATTACKS[attack]
    change(path)
    return named


def schema_objects(path: Path) -> set[tuple[str, str]]:
    """(type, name) of every trigger, view, table and index defined in the file."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {(t, n) for t, n in conn.execute("SELECT type, name FROM sqlite_schema")}
    finally:
        conn.close()
