"""Helpers that make real damaged and foreign database files for backup and recovery tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledgrab.storage.database import Database

__all__ = [
    "activity_rows",
    "corrupt_pages",
    "fill_settings",
    "foreign_sqlite",
    "live_bytes",
    "make_ledgrab_db",
]


def fill_settings(conn: sqlite3.Connection, count: int, prefix: str = "k") -> None:
    for i in range(count):
        Database.put_setting(conn, f"{prefix}{i}", {"n": i, "pad": "x" * 300})


def make_ledgrab_db(path: Path, rows: int = 200, **kwargs) -> Path:
    """A real, closed LedGrab database with `rows` settings (several pages of b-tree)."""
    db = Database(path, **kwargs)
    db.open()
    try:
        db.write_blocking(fill_settings, rows)
    finally:
        db.close()
    return path


def corrupt_pages(path: Path, out: Path) -> Path:
    """Copy `path` with the b-tree header of every page after the first overwritten."""
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    assert len(data) // page_size >= 3, "need a file of several pages"
    for start in range(page_size, len(data), page_size):
        data[start : start + 12] = b"\xa5" * 12
    out.write_bytes(bytes(data))
    return out


def foreign_sqlite(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, caption TEXT)")
    conn.execute("INSERT INTO photos (caption) VALUES ('beach')")
    conn.commit()
    conn.close()
    return path


def live_bytes(data_dir: Path, name: str = "ledgrab.db") -> dict[str, bytes]:
    """The database file and its WAL (the -shm index changes on every read, so not it)."""
    out = {}
    for suffix in ("", "-wal"):
        file = data_dir / f"{name}{suffix}"
        if file.exists():
            out[file.name] = file.read_bytes()
    return out


def activity_rows(path_or_db, where: str = "1") -> list[tuple]:
    """(id, action, severity, actor, message) of activity entries, from a file or a Database."""
    sql = (
        f"SELECT id, action, severity, actor, message FROM activity_log WHERE {where} ORDER BY seq"
    )
    if isinstance(path_or_db, Database):
        path_or_db.write_blocking(lambda conn: None)  # commit what the recorder holds
        return path_or_db.read_blocking(lambda conn: conn.execute(sql).fetchall())
    conn = sqlite3.connect(path_or_db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
