"""A LedGrab database as an earlier schema version left it, full of real data.

The schema is migrations 1..version of today's code: for every version main shipped, that is
byte for byte the schema that version's own code created (compared when this was written, by
running each release's migrations). The rows are in that version's shapes: entity configs as
its code encoded them (old_entity_rows.json), settings with only the fields it had, log rows
without a chain before version 5 and without block counts before version 4.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ledgrab.storage.activity_counts import seal_completed_blocks
from ledgrab.storage.activity_log import ActivityLogRepository
from ledgrab.storage.data_migrations import MIGRATIONS, migrate
from ledgrab.storage.database import set_file_format

__all__ = ["OldDatabase", "build_old_database"]

_ROWS = json.loads((Path(__file__).parent / "old_entity_rows.json").read_text())
_STAMP = "2026-01-02T03:04:05.678Z"
_CATEGORIES = ("entity", "auth", "device", "system")
_SEVERITIES = ("info", "info", "info", "warning", "error")


@dataclass
class OldDatabase:
    """What was put into the file, to be found again after the upgrade."""

    version: int
    keys: dict[str, str] = field(default_factory=dict)  # label -> the key itself
    settings: dict[str, dict] = field(default_factory=dict)
    entities: dict[str, dict[str, dict]] = field(default_factory=dict)  # kind -> id -> config
    log: list[tuple] = field(default_factory=list)  # the 11 stored fields of each entry


def _log_rows(count: int) -> list[tuple]:
    start_us = 1_767_225_600_000_000  # 2026-01-01
    rows = []
    for n in range(count):
        ts = start_us + n * 250_000
        category = _CATEGORIES[n % 4]
        rows.append(
            (
                f"{ts:014x}{n & 0xFFFFFF:06x}",
                ts,
                category,
                f"{category}.event_{n % 7}",
                _SEVERITIES[n % 5],
                ("admin", "system", "kitchen-tablet")[n % 3],
                f"entry {n}: ünïcode and 'quotes' stay as they were",
                "device" if n % 3 == 0 else None,
                f"dev_{n % 6 + 1}" if n % 3 == 0 else None,
                "Shelf" if n % 3 == 0 else None,
                json.dumps({"n": n, "note": "x" * (n % 40)}),
            )
        )
    return rows


def _insert_entities(conn: sqlite3.Connection, version: int, old: OldDatabase) -> None:
    eras = ["3"] if version < 5 else ["3", "5"]
    for era in eras:
        rows = _ROWS[era]
        for kind, table in (("device", "devices"), ("source", "sources")):
            for text in rows[kind]:
                entity_id = f"{kind[:3]}_{era}_{len(old.entities.setdefault(kind, {})) + 1}"
                conn.execute(
                    f"INSERT INTO {table} VALUES (?, ?, ?, ?)", (entity_id, text, _STAMP, _STAMP)
                )
                old.entities[kind][entity_id] = json.loads(text)
        config = json.loads(rows["target"][0])
        config["device_id"], config["source_id"] = f"dev_{era}_1", f"src_{era}_1"
        target_id = f"tgt_{era}_1"
        conn.execute(
            "INSERT INTO targets VALUES (?, ?, ?, ?, ?, ?)",
            (
                target_id,
                config["device_id"],
                config["source_id"],
                json.dumps(config),
                _STAMP,
                _STAMP,
            ),
        )
        old.entities.setdefault("target", {})[target_id] = config


def build_old_database(path: Path, version: int, entries: int) -> OldDatabase:
    """Create `path` at schema `version` holding keys, settings, entities and `entries` log
    entries (each where that version had them); return what it holds."""
    old = OldDatabase(version)
    conn = sqlite3.connect(path, isolation_level=None)
    set_file_format(conn)
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn, [m for m in MIGRATIONS if m.version <= version])
    conn.execute("BEGIN")
    for label in ("admin", "kitchen-tablet", "backup-script"):
        key = hashlib.sha256(f"{label}-{version}".encode()).hexdigest()
        conn.execute(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?)",
            (label, hashlib.sha256(key.encode()).digest(), key[:6] + "…", _STAMP),
        )
        old.keys[label] = key
    if version >= 2:
        activity = {
            "enabled": True,
            "max_days": 3650,
            "max_entries": 1_000_000,
            "max_bytes": 67_108_864,
            "commit_interval_s": 2.0,
            "max_batch": 250,
        }
        if version >= 5:
            activity["checkpoint_interval_s"] = 60.0
        old.settings["activity_log"] = activity
    if version >= 4:
        old.settings["backup.auto"] = {
            "enabled": False,
            "interval_s": 7200,
            "destination": "",
            "keep": 3,
            "max_bytes": 1_073_741_824,
        }
    for key, value in old.settings.items():
        conn.execute("INSERT INTO settings VALUES (?, ?)", (key, json.dumps(value)))
    if version >= 3:
        _insert_entities(conn, version, old)
    if version >= 2:
        old.log = _log_rows(entries)
        if version >= 5:
            ActivityLogRepository.insert_rows(conn, old.log)
        else:
            conn.executemany(
                "INSERT INTO activity_log (seq, id, ts, category, action, severity, actor, "
                "message, entity_type, entity_id, entity_name, metadata) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(n + 1, *row) for n, row in enumerate(old.log)],
            )
            if version == 4:
                seal_completed_blocks(conn, 0, entries)
    conn.execute("COMMIT")
    conn.close()
    return old
