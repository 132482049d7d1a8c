"""Attach the device key to the log at start: the key file, its record in the database, and a
signature on the anchors written before there was a key (the migration's)."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time

from ledgrab.core.activity_log.signing import DeviceKey
from ledgrab.storage import activity_chain as chain
from ledgrab.storage.database import Database

__all__ = ["attach_key", "register_device_key"]

log = logging.getLogger(__name__)


async def attach_key(db: Database, data_dir: str | os.PathLike[str]) -> DeviceKey:
    """Load or create the key; write only when the database does not know it yet or holds
    unsigned anchors (a start, not an idle server, pays for that write)."""
    key = await asyncio.to_thread(DeviceKey.load_or_create, data_dir)
    verb = "created" if key.created else "loaded"
    log.log(
        logging.WARNING if key.created else logging.INFO,
        "activity log signing key %s: ed25519 %s (origin %s), private key in %s",
        verb,
        key.public.fingerprint,
        key.origin,
        key.path,
    )
    if await db.read(_needs_write, key):
        await db.write(register_device_key, key)
    return key


def _needs_write(conn: sqlite3.Connection, key: DeviceKey) -> bool:
    known = conn.execute(
        "SELECT 1 FROM activity_keys WHERE key_id = ?", (key.public.key_id.hex(),)
    ).fetchone()
    unsigned = conn.execute("SELECT 1 FROM activity_anchors WHERE note IS NULL LIMIT 1").fetchone()
    return known is None or unsigned is not None


def register_device_key(
    conn: sqlite3.Connection, key: DeviceKey, now_us: int | None = None
) -> None:
    """Inside a write transaction: record the key's public half in the file, and sign the
    anchors written without a key (a migration's)."""
    now_us = now_us if now_us is not None else int(time.time() * 1_000_000)
    chain.register_key(conn, key.public.key_id.hex(), key.origin, key.public.raw, now_us)
    chain.sign_pending_anchors(conn, key)
