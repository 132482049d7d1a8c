"""A chained, signed activity log on a real file, made by the real recorder and writer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledgrab.core.activity_log.chain_setup import register_device_key
from ledgrab.core.activity_log.checkpoints import Checkpointer
from ledgrab.core.activity_log.settings import ActivityLogSettings
from ledgrab.core.activity_log.signing import DeviceKey
from tests.activity.helpers import open_recorder

__all__ = ["build_signed_log", "checkpoint_note", "sql"]


def build_signed_log(
    data_dir: Path, entries: int = 300, per_commit: int = 50
) -> tuple[Path, DeviceKey]:
    """`entries` entries committed `per_commit` at a time, each commit signed by a checkpoint
    (interval 0), the start anchor signed. Returns the database path and the key."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key = DeviceKey.load_or_create(data_dir)
    path = data_dir / "ledgrab.db"
    settings = ActivityLogSettings(checkpoint_interval_s=0, commit_interval_s=300)
    with open_recorder(path, settings, checkpointer=Checkpointer(key)) as (db, recorder):
        db.write_blocking(register_device_key, key)
        for i in range(entries):
            recorder.record(
                "entity" if i % 3 else "device",
                "device.updated",
                actor=f"user{i % 4}",
                entity_type="device",
                entity_id=f"d{i % 7}",
                entity_name=None if i % 5 else f"Strip {i}",
                message=f"entry {i + 1} ü",
                metadata={"n": i + 1, "nested": {"ok": True}},
            )
            if (i + 1) % per_commit == 0:
                recorder.flush_blocking()
        recorder.flush_blocking()
    return path, key


def sql(path: Path, *statements: tuple) -> None:
    """Edit the file as an attacker with the card would: plain SQL, no LedGrab code."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(*statement)
    finally:
        conn.close()


def checkpoint_note(path: Path, seq: int) -> str:
    """The signed text of the stored checkpoint at `seq`."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT note FROM activity_checkpoints WHERE seq = ?", (seq,)
        ).fetchone()[0]
    finally:
        conn.close()
