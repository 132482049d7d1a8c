"""/api/v1/sources: effects (and later capture inputs) with typed params per kind."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ledgrab.api.entity_common import (
    MISSING,
    MISSING_OR_CONFLICT,
    changed_fields,
    create_entity,
    delete_unused,
    invalid,
    require,
    without_read_only,
)
from ledgrab.core.effects.registry import SOURCE_KINDS, decode_params
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.models import SourceConfig
from ledgrab.core.processing.processor_manager import ProcessorManager
from ledgrab.storage.entities import EntityStore

__all__ = ["SourceController", "SourceKindInfo"]


class SourceKindInfo(msgspec.Struct):
    kind: str
    description: str
    defaults: dict[str, Any]


def _decode(raw: dict[str, Any]) -> SourceConfig:
    """Validate the envelope, then the params against the kind; store params with defaults."""
    try:
        config = msgspec.convert(raw, SourceConfig)
        params = decode_params(config.kind, config.params)
    except (msgspec.ValidationError, ValueError) as exc:
        raise invalid("source", str(exc)) from None
    return msgspec.structs.replace(config, params=msgspec.to_builtins(params))


class SourceController(Controller):
    path = "/sources"
    tags = ["sources"]

    @get("/", summary="List sources", sync_to_thread=False)
    def list_sources(self, entities: NamedDependency[EntityStore]) -> list[dict[str, Any]]:
        return [e.to_dict() for e in entities.all("source")]

    @get("/kinds", summary="The source kinds and their default params", sync_to_thread=False)
    def list_kinds(self) -> list[SourceKindInfo]:
        return [
            SourceKindInfo(k.name, k.description, msgspec.to_builtins(k.params_type()))
            for k in SOURCE_KINDS.values()
        ]

    @post("/", summary="Create a source")
    async def create_source(
        self,
        entities: NamedDependency[EntityStore],
        bus: NamedDependency[EventBus],
        data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        config = _decode(without_read_only(data))
        return (await create_entity(entities, bus, "source", config, data)).to_dict()

    @get("/{source_id:str}", summary="One source", sync_to_thread=False, raises=MISSING)
    def get_source(
        self, entities: NamedDependency[EntityStore], source_id: FromPath[str]
    ) -> dict[str, Any]:
        return require(entities, "source", source_id).to_dict()

    @patch(
        "/{source_id:str}",
        summary="Change a source; params merge into the current ones",
        raises=MISSING,
    )
    async def update_source(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        bus: NamedDependency[EventBus],
        source_id: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        async with entities.lock:
            current = require(entities, "source", source_id)
            old = current.config
            patch_data = without_read_only(data)
            kind = patch_data.get("kind", old.kind)
            params = patch_data.get("params", {})
            if not isinstance(params, dict):
                raise invalid("source", "params must be an object")
            # Same kind: the given params change those fields; a new kind starts from defaults.
            merged_params = {**old.params, **params} if kind == old.kind else params
            config = _decode({**msgspec.to_builtins(old), **patch_data, "params": merged_params})
            changed = changed_fields(old, config)
            entity = await entities.update("source", source_id, config) if changed else current
        if changed:
            await engine.source_changed(source_id)
            fire_entity_event(
                bus, "source", "updated", source_id, entity_name=entity.name, changed_fields=changed
            )
        return entity.to_dict()

    @delete(
        "/{source_id:str}",
        summary="Delete a source no target uses",
        status_code=204,
        raises=MISSING_OR_CONFLICT,
    )
    async def delete_source(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        bus: NamedDependency[EventBus],
        source_id: FromPath[str],
    ) -> None:
        await delete_unused(entities, bus, "source", source_id, engine.is_running)
