"""/api/v1/targets: CRUD, POST start|stop, GET state (running, fps, frames, errors)."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ledgrab.api.entity_common import (
    MISSING,
    MISSING_OR_CONFLICT,
    ConflictException,
    changed_fields,
    conflict,
    merge_patch,
    require,
    shaped,
)
from ledgrab.api.validation import decode_strict
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.processor_manager import EngineError, ProcessorManager
from ledgrab.core.processing.target_runner import TargetState
from ledgrab.models.bodies import TargetOut, TargetPatch, patch_fields
from ledgrab.models.targets import TargetConfig
from ledgrab.storage.entities import Entity, EntityStore

__all__ = ["TargetController"]


def _check_links(entities: EntityStore, config: TargetConfig) -> TargetConfig:
    """409 unless the device and the source a target names exist (well-formed ids that name
    nothing are a clash with what is stored, not a malformed request)."""
    wrong = [
        f"{kind}_id {value!r} names no {kind}"
        for kind, value in (("device", config.device_id), ("source", config.source_id))
        if entities.get(kind, value) is None  # type: ignore[arg-type]
    ]
    if wrong:
        raise conflict("; ".join(wrong))
    return config


def _shape(entity: Entity, engine: ProcessorManager) -> TargetOut:
    return shaped(entity, running=engine.is_running(entity.id))


class TargetController(Controller):
    path = "/targets"
    tags = ["targets"]

    @get("/", summary="List targets", sync_to_thread=False)
    def list_targets(
        self, entities: NamedDependency[EntityStore], engine: NamedDependency[ProcessorManager]
    ) -> list[TargetOut]:
        return [_shape(e, engine) for e in entities.all("target")]

    @post("/", summary="Create a target (a device fed by a source)", raises=[ConflictException])
    async def create_target(
        self,
        request: Request,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        bus: NamedDependency[EventBus],
        data: JSONBody[TargetConfig],
    ) -> TargetOut:
        config = await decode_strict(request, TargetConfig, "target")
        async with entities.lock:
            entity = await entities.create("target", _check_links(entities, config))
        fire_entity_event(
            bus,
            "target",
            "created",
            entity.id,
            entity_name=entity.name,
            changed_fields=config.__struct_fields__,
        )
        return _shape(entity, engine)

    @get("/{target_id:str}", summary="One target", sync_to_thread=False, raises=MISSING)
    def get_target(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        target_id: FromPath[str],
    ) -> TargetOut:
        return _shape(require(entities, "target", target_id), engine)

    @patch(
        "/{target_id:str}",
        summary="Change a target; a running one follows at once",
        raises=MISSING_OR_CONFLICT,
    )
    async def update_target(
        self,
        request: Request,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        bus: NamedDependency[EventBus],
        target_id: FromPath[str],
        data: JSONBody[TargetPatch],
    ) -> TargetOut:
        changes = patch_fields(await decode_strict(request, TargetPatch, "target"))
        async with entities.lock:
            current = require(entities, "target", target_id)
            config = _check_links(entities, merge_patch("target", current.config, changes))
            changed = changed_fields(current.config, config)
            entity = await entities.update("target", target_id, config) if changed else current
            if changed:
                try:
                    await engine.target_changed(target_id)
                except EngineError as exc:
                    raise conflict(str(exc)) from None
        if changed:
            fire_entity_event(
                bus, "target", "updated", target_id, entity_name=entity.name, changed_fields=changed
            )
        return _shape(entity, engine)

    @delete(
        "/{target_id:str}",
        summary="Delete a target (stopping it first)",
        status_code=204,
        raises=MISSING,
    )
    async def delete_target(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        bus: NamedDependency[EventBus],
        target_id: FromPath[str],
    ) -> None:
        async with entities.lock:
            require(entities, "target", target_id)
            await engine.stop(target_id, "deleted")
            entity = await entities.delete("target", target_id)
            engine.forget(target_id)
        fire_entity_event(bus, "target", "deleted", target_id, entity_name=entity.name)

    @post(
        "/{target_id:str}/start",
        summary="Start the frame loop",
        status_code=200,
        raises=MISSING_OR_CONFLICT,
    )
    async def start_target(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        target_id: FromPath[str],
    ) -> TargetState:
        require(entities, "target", target_id)
        try:
            return await engine.start(target_id)  # the engine records the start
        except EngineError as exc:
            raise conflict(str(exc)) from None

    @post("/{target_id:str}/stop", summary="Stop the frame loop", status_code=200, raises=MISSING)
    async def stop_target(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        bus: NamedDependency[EventBus],
        target_id: FromPath[str],
    ) -> TargetState:
        entity = require(entities, "target", target_id)
        was_running = engine.is_running(target_id)
        state = await engine.stop(target_id)
        if was_running:
            fire_entity_event(bus, "target", "stopped", target_id, entity_name=entity.name)
        return state

    @get(
        "/{target_id:str}/state",
        summary="Running, fps, frames sent, errors",
        sync_to_thread=False,
        raises=MISSING,
    )
    def target_state(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        target_id: FromPath[str],
    ) -> TargetState:
        require(entities, "target", target_id)
        return engine.state(target_id)
