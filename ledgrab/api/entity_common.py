"""Shared pieces of the entity routes: the typed answer, merging a PATCH, the 4xx errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.exceptions import HTTPException, NotFoundException

from ledgrab.api.validation import FieldError, field_error, invalid_fields
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
from ledgrab.models.bodies import out_type
from ledgrab.models.devices import CrossFieldError
from ledgrab.storage.entities import Entity, EntityKind, EntityStore

__all__ = [
    "MISSING",
    "MISSING_OR_CONFLICT",
    "ConflictException",
    "changed_fields",
    "conflict",
    "create_entity",
    "delete_unused",
    "in_use_detail",
    "iso_ms",
    "merge_patch",
    "require",
    "shaped",
]


class ConflictException(HTTPException):
    """409: the change clashes with what exists (a name taken, an entity still in use)."""

    status_code = 409


# For `raises=`: the answers beside 200 and 400 that the OpenAPI document then lists.
MISSING = [NotFoundException]
MISSING_OR_CONFLICT = [NotFoundException, ConflictException]


def iso_ms(ts: float | None) -> str | None:
    """A wall-clock timestamp as ISO 8601 UTC with milliseconds (None stays None)."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")


def shaped(entity: Entity, **extra: Any) -> Any:
    """The entity as its typed answer: the config's fields, `id` and the timestamps (and extra)."""
    config = entity.config
    fields = {f: getattr(config, f) for f in config.__struct_fields__}
    return out_type(config)(
        **fields, id=entity.id, created_at=entity.created_at, updated_at=entity.updated_at, **extra
    )


def merge_patch(
    kind: str, current: Any, changes: dict[str, Any], *, label: str = "", prefix: str = ""
) -> Any:
    """`current` with `changes` applied, validated as the same type (400 naming the fields).
    `label` names what the fields must apply to ("a rainbow source"); `prefix` their parent."""
    if stray := sorted(set(changes) - set(current.__struct_fields__)):
        tag = getattr(current.__struct_config__, "tag", None)
        label = label or (f"a {tag} {kind}" if isinstance(tag, str) else f"a {kind}")
        wrong = [FieldError(_join(prefix, f), f"does not apply to {label}") for f in stray]
        raise invalid_fields(kind, wrong)
    merged = {**msgspec.to_builtins(current), **changes}
    try:
        return msgspec.convert(merged, type(current), strict=True)
    except msgspec.ValidationError as exc:
        if isinstance(exc.__cause__, CrossFieldError):
            # Each field valid, the device they make is not: the change conflicts with the
            # stored fields the rule also reads (409; a new device that breaks it is a 400).
            error = field_error(exc, prefix)
            raise conflict(
                f"{error.field}: {error.message} (with the device's other fields)"
            ) from None
        raise invalid_fields(kind, [field_error(exc, prefix)]) from None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def conflict(detail: str) -> HTTPException:
    return ConflictException(detail=detail)


def require(store: EntityStore, kind: EntityKind, entity_id: str) -> Entity:
    entity = store.get(kind, entity_id)
    if entity is None:
        raise NotFoundException(detail=f"{kind} {entity_id!r} does not exist")
    return entity


def changed_fields(before: Any, after: Any) -> list[str]:
    """Names (never values) of the top-level fields whose values differ."""
    old, new = msgspec.to_builtins(before), msgspec.to_builtins(after)
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def in_use_detail(kind: str, users: list[Entity], is_running: Callable[[str], bool]) -> str:
    names = ", ".join(
        f"{t.name!r} ({t.id}{', running' if is_running(t.id) else ''})" for t in users
    )
    return f"the {kind} is used by target {names}; delete that target or point it elsewhere first"


async def create_entity(
    entities: EntityStore, bus: EventBus, kind: EntityKind, config: Any
) -> Entity:
    """Store a decoded entity, then announce it through the central hook (field names only)."""
    async with entities.lock:
        entity = await entities.create(kind, config)
    fire_entity_event(
        bus,
        kind,
        "created",
        entity.id,
        entity_name=entity.name,
        changed_fields=msgspec.to_builtins(config),
    )
    return entity


async def delete_unused(
    entities: EntityStore,
    bus: EventBus,
    kind: EntityKind,
    entity_id: str,
    is_running: Callable[[str], bool],
) -> None:
    """Delete a device or source that no target uses (409 naming the targets otherwise)."""
    async with entities.lock:
        require(entities, kind, entity_id)
        if users := entities.targets_using(kind, entity_id):
            raise conflict(in_use_detail(kind, users, is_running))
        entity = await entities.delete(kind, entity_id)
    fire_entity_event(bus, kind, "deleted", entity_id, entity_name=entity.name)
