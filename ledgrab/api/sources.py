"""/api/v1/sources: effects and capture inputs, a tagged union on `kind` with typed params."""

from __future__ import annotations

from typing import Union

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ledgrab.api.entity_common import (
    MISSING,
    MISSING_OR_CONFLICT,
    changed_fields,
    create_entity,
    delete_unused,
    merge_patch,
    require,
    shaped,
)
from ledgrab.api.validation import decode_strict, field_error, invalid_fields
from ledgrab.core.effects.registry import SOURCE_KINDS
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.processor_manager import ProcessorManager
from ledgrab.models.bodies import SourceOut, SourcePatch, patch_fields
from ledgrab.models.sources import SOURCE_TYPES, SourceConfig
from ledgrab.storage.entities import EntityStore

__all__ = ["SourceController", "SourceKindInfo"]


def _params_type(kind: str) -> type[msgspec.Struct]:
    return next(f.type for f in msgspec.structs.fields(SOURCE_TYPES[kind]) if f.name == "params")


def _kind_info(kind: str) -> type[msgspec.Struct]:
    """What /sources/kinds says of one kind: tagged by `kind`, `defaults` its typed params."""
    return msgspec.defstruct(
        SOURCE_TYPES[kind].__name__ + "KindInfo",
        [("description", str), ("defaults", _params_type(kind))],
        tag_field="kind",
        tag=kind,
        kw_only=True,
        module=__name__,
    )


_KIND_INFO = {kind: _kind_info(kind) for kind in SOURCE_KINDS}
SourceKindInfo = Union[tuple(_KIND_INFO.values())]  # type: ignore[valid-type]  # noqa: UP007


def _rebuild(kind: str, name: str, params: msgspec.Struct) -> SourceConfig:
    raw = {"kind": kind, "name": name, "params": msgspec.to_builtins(params)}
    try:
        return msgspec.convert(raw, SourceConfig, strict=True)  # type: ignore[arg-type]
    except msgspec.ValidationError as exc:
        raise invalid_fields("source", [field_error(exc)]) from None


class SourceController(Controller):
    path = "/sources"
    tags = ["sources"]

    @get("/", summary="List sources", sync_to_thread=False)
    def list_sources(self, entities: NamedDependency[EntityStore]) -> list[SourceOut]:
        return [shaped(e) for e in entities.all("source")]

    @get("/kinds", summary="The source kinds and their default params", sync_to_thread=False)
    def list_kinds(self) -> list[SourceKindInfo]:
        return [
            _KIND_INFO[k.name](description=k.description, defaults=k.params_type())
            for k in SOURCE_KINDS.values()
        ]

    @post("/", summary="Create a source")
    async def create_source(
        self,
        request: Request,
        entities: NamedDependency[EntityStore],
        bus: NamedDependency[EventBus],
        data: JSONBody[SourceConfig],
    ) -> SourceOut:
        config = await decode_strict(request, SourceConfig, "source")
        return shaped(await create_entity(entities, bus, "source", config))

    @get("/{source_id:str}", summary="One source", sync_to_thread=False, raises=MISSING)
    def get_source(
        self, entities: NamedDependency[EntityStore], source_id: FromPath[str]
    ) -> SourceOut:
        return shaped(require(entities, "source", source_id))

    @patch(
        "/{source_id:str}",
        summary="Change a source; params merge into the current ones",
        raises=MISSING,
    )
    async def update_source(
        self,
        request: Request,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        bus: NamedDependency[EventBus],
        source_id: FromPath[str],
        data: JSONBody[SourcePatch],
    ) -> SourceOut:
        sent = await decode_strict(request, SourcePatch, "source")
        changes = patch_fields(sent)
        async with entities.lock:
            current = require(entities, "source", source_id)
            old = current.config
            kind = sent.__struct_config__.tag
            # Same kind: the given params change those fields; a new kind starts from defaults.
            base = old.params if kind == old.kind else _params_type(kind)()
            params = merge_patch(
                "source",
                base,
                changes.get("params", {}),
                label=f"a {kind} source",
                prefix="params",
            )
            config = _rebuild(kind, changes.get("name", old.name), params)
            changed = changed_fields(old, config)
            entity = await entities.update("source", source_id, config) if changed else current
        if changed:
            await engine.source_changed(source_id)
            fire_entity_event(
                bus, "source", "updated", source_id, entity_name=entity.name, changed_fields=changed
            )
        return shaped(entity)

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
