"""Shared set-up for activity-log tests: a real database file with a recorder attached."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.activity_log.settings import ActivityLogSettings
from ledgrab.storage.database import Database

__all__ = ["open_recorder", "rows"]


@contextlib.contextmanager
def open_recorder(
    path: Path, settings: ActivityLogSettings | None = None, **kwargs
) -> Iterator[tuple[Database, ActivityRecorder]]:
    db = Database(path)
    db.open()
    recorder = ActivityRecorder(db, None, settings or ActivityLogSettings(), **kwargs)
    db.add_batch_source(recorder)
    try:
        yield db, recorder
    finally:
        db.close()


def rows(path: Path, sql: str = "SELECT id, action FROM activity_log ORDER BY seq") -> list:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
