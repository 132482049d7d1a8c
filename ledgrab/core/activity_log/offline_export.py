"""`ledgrab export`: stream the activity log from the database file, read-only, to a file or stdout.

Safe beside a running server: a read-only WAL reader sees every committed entry and writes
nothing; entries still waiting in the server's batch (at most `commit_interval_s` old) are not
in the file yet, so they are not in the export either.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import msgspec

from ledgrab.core.activity_log.export import export_stream
from ledgrab.storage.activity_log import ActivityLogFilters

__all__ = ["ExportError", "build_filters", "export_to"]

T = TypeVar("T")


class ExportError(ValueError):
    """A filter or the database file is not usable; the message says which."""


class _ReadOnlyFile:
    """The `read()` surface export_stream needs, over one read-only connection (no event loop
    to protect here: the CLI owns its thread)."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise ExportError(f"no database at {path}")
        self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        self._conn.execute("PRAGMA busy_timeout = 5000")

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self._conn, *args)

    def close(self) -> None:
        self._conn.close()


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ExportError(f"--{name} {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ExportError(f"--{name} {text!r} needs a UTC offset, e.g. {text}+00:00")
    return moment


def build_filters(
    *,
    categories: list[str] | None = None,
    severities: list[str] | None = None,
    actor: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    message_like: str | None = None,
) -> ActivityLogFilters:
    """The same 8 filters as the HTTP export; a bad value raises ExportError naming it."""
    raw = {
        "categories": tuple(categories) if categories else None,
        "severities": tuple(severities) if severities else None,
        "actor": actor,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "since": _moment(since, "since"),
        "until": _moment(until, "until"),
        "message_like": message_like,
    }
    if raw["since"] and raw["until"] and raw["since"] > raw["until"]:
        raise ExportError("--since is after --until")
    try:
        return msgspec.convert(raw, ActivityLogFilters, from_attributes=False)
    except msgspec.ValidationError as exc:
        raise ExportError(f"bad filter: {exc}") from None


def export_to(database: Path, filters: ActivityLogFilters, fmt: str, out: BinaryIO) -> None:
    """Write every matching entry, newest first, in `fmt` (csv, json or ndjson) to `out`."""
    source = _ReadOnlyFile(database)

    async def pump() -> None:
        async for chunk in export_stream(source, filters, fmt):
            out.write(chunk)

    try:
        asyncio.run(pump())
    finally:
        source.close()
        if out is not sys.stdout.buffer:
            out.flush()
