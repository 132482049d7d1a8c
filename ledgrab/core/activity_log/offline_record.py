"""record_and_close(): one activity entry written by a command-line tool, then the database closed.

The entry obeys the log's stored settings (`enabled` holds) and is chained after the head inside
the writer's own transaction, so it is safe beside a running server as well as without one.
"""

from __future__ import annotations

import getpass
from typing import Any

from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.activity_log.settings import SETTINGS_KEY, settings_from_stored
from ledgrab.storage.database import Database

__all__ = ["cli_actor", "record_and_close"]


def cli_actor() -> str:
    """Who ran the command: `cli:<user>`."""
    return f"cli:{getpass.getuser()}"


def record_and_close(
    db: Database,
    action: str,
    *,
    message: str,
    metadata: dict[str, Any],
    severity: str = "info",
    actor: str | None = None,
) -> None:
    """Record one `system` entry in the opened `db` and close it: close() commits the entry."""
    stored = db.get_setting_blocking(SETTINGS_KEY, {})
    recorder = ActivityRecorder(db, settings=settings_from_stored(stored))
    db.add_batch_source(recorder)
    recorder.record(
        "system",
        action,
        severity=severity,
        actor=actor or cli_actor(),
        message=message,
        metadata=metadata,
    )
    db.close()
