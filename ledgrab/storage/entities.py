"""Devices, sources and targets: SQLite tables (migration 3) and an in-memory write-through store.

Reads are served from memory (a few dozen small entities), so routes and frame loops never wait
on the disk; every change is committed through the writer before the cache and the caller see it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from ledgrab.models.devices import DeviceConfig
from ledgrab.models.sources import SourceConfig
from ledgrab.models.targets import TargetConfig
from ledgrab.storage.database import Database
from ledgrab.utils.plain_text import displayable

__all__ = ["Entity", "EntityKind", "EntityStore"]

log = logging.getLogger(__name__)

EntityKind = Literal["device", "source", "target"]
_TABLES: dict[str, str] = {"device": "devices", "source": "sources", "target": "targets"}
_TYPES: dict[str, Any] = {"device": DeviceConfig, "source": SourceConfig, "target": TargetConfig}
_PREFIX = {"device": "dev", "source": "src", "target": "tgt"}
_NAME_FIELDS = ("name", "source_name")


@dataclass(frozen=True)
class Entity:
    kind: str
    id: str
    config: Any  # DeviceConfig | SourceConfig | TargetConfig
    created_at: str
    updated_at: str

    @property
    def name(self) -> str:
        return self.config.name

    def to_dict(self) -> dict[str, Any]:
        """The API shape: the id first, then the config's fields."""
        return {
            "id": self.id,
            **msgspec.to_builtins(self.config),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _insert(conn: sqlite3.Connection, entity: Entity) -> None:
    table = _TABLES[entity.kind]
    config = msgspec.json.encode(entity.config).decode()
    if entity.kind == "target":
        conn.execute(
            "INSERT INTO targets (id, device_id, source_id, config, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                entity.id,
                entity.config.device_id,
                entity.config.source_id,
                config,
                entity.created_at,
                entity.updated_at,
            ),
        )
    else:
        conn.execute(
            f"INSERT INTO {table} (id, config, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (entity.id, config, entity.created_at, entity.updated_at),
        )


def _update(conn: sqlite3.Connection, entity: Entity) -> None:
    config = msgspec.json.encode(entity.config).decode()
    if entity.kind == "target":
        conn.execute(
            "UPDATE targets SET device_id = ?, source_id = ?, config = ?, updated_at = ? "
            "WHERE id = ?",
            (
                entity.config.device_id,
                entity.config.source_id,
                config,
                entity.updated_at,
                entity.id,
            ),
        )
    else:
        conn.execute(
            f"UPDATE {_TABLES[entity.kind]} SET config = ?, updated_at = ? WHERE id = ?",
            (config, entity.updated_at, entity.id),
        )


def _delete(conn: sqlite3.Connection, kind: str, entity_id: str) -> None:
    conn.execute(f"DELETE FROM {_TABLES[kind]} WHERE id = ?", (entity_id,))


def _load_all(conn: sqlite3.Connection) -> dict[str, list[tuple[str, str, str, str]]]:
    return {
        kind: conn.execute(
            f"SELECT id, config, created_at, updated_at FROM {table} ORDER BY created_at, id"
        ).fetchall()
        for kind, table in _TABLES.items()
    }


def _displayable_names(config: str) -> Any:
    """A stored config with its names made displayable: a file restored from an older version
    may hold names that today's rules refuse; the entity loads under a cleaned name and the
    stored row keeps the original until the next change."""
    raw = msgspec.json.decode(config)
    if isinstance(raw, dict):
        for field in _NAME_FIELDS:
            if isinstance(raw.get(field), str):
                raw[field] = displayable(raw[field])
    return raw


class EntityStore:
    """Holds every device, source and target; `lock` serialises changes (check, then write)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._items: dict[str, dict[str, Entity]] = {kind: {} for kind in _TABLES}
        self.lock = asyncio.Lock()

    async def load(self) -> None:
        rows = await self._db.read(_load_all)
        for kind, kind_rows in rows.items():
            items: dict[str, Entity] = {}
            for entity_id, config, created, updated in kind_rows:
                try:
                    value = msgspec.convert(_displayable_names(config), _TYPES[kind])
                except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                    # Kept in the database for a later version; skipped (and said) here.
                    log.error(
                        "stored %s %s is no longer valid and is skipped: %s", kind, entity_id, exc
                    )
                    continue
                items[entity_id] = Entity(kind, entity_id, value, created, updated)
            self._items[kind] = items

    def all(self, kind: EntityKind) -> list[Entity]:
        return list(self._items[kind].values())

    def get(self, kind: EntityKind, entity_id: str) -> Entity | None:
        return self._items[kind].get(entity_id)

    def targets_using(self, kind: EntityKind, entity_id: str) -> list[Entity]:
        field = "device_id" if kind == "device" else "source_id"
        return [t for t in self._items["target"].values() if getattr(t.config, field) == entity_id]

    def _new_id(self, kind: str) -> str:
        while True:
            entity_id = f"{_PREFIX[kind]}_{secrets.token_hex(4)}"
            if entity_id not in self._items[kind]:
                return entity_id

    async def create(self, kind: EntityKind, config: Any) -> Entity:
        now = _now()
        entity = Entity(kind, self._new_id(kind), config, now, now)
        await self._db.write(_insert, entity)
        self._items[kind][entity.id] = entity
        return entity

    async def update(self, kind: EntityKind, entity_id: str, config: Any) -> Entity:
        entity = replace(self._items[kind][entity_id], config=config, updated_at=_now())
        await self._db.write(_update, entity)
        self._items[kind][entity_id] = entity
        return entity

    async def delete(self, kind: EntityKind, entity_id: str) -> Entity:
        entity = self._items[kind][entity_id]
        await self._db.write(_delete, kind, entity_id)
        del self._items[kind][entity_id]
        return entity
