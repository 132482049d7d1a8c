"""/api/v1/devices: list, create (201), get, PATCH, delete (204; 409 while a target uses it)."""

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
from ledgrab.core.devices.models import decode_device
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.processor_manager import ProcessorManager
from ledgrab.storage.entities import EntityStore

__all__ = ["DeviceController"]


def _decode(raw: dict[str, Any]):
    try:
        return decode_device(raw)
    except ValueError as exc:
        raise invalid("device", str(exc)) from None


class DeviceController(Controller):
    path = "/devices"
    tags = ["devices"]

    @get("/", summary="List devices", sync_to_thread=False)
    def list_devices(self, entities: NamedDependency[EntityStore]) -> list[dict[str, Any]]:
        return [e.to_dict() for e in entities.all("device")]

    @post("/", summary="Create a device")
    async def create_device(
        self,
        entities: NamedDependency[EntityStore],
        bus: NamedDependency[EventBus],
        data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        config = _decode(without_read_only(data))
        return (await create_entity(entities, bus, "device", config, data)).to_dict()

    @get("/{device_id:str}", summary="One device", sync_to_thread=False, raises=MISSING)
    def get_device(
        self, entities: NamedDependency[EntityStore], device_id: FromPath[str]
    ) -> dict[str, Any]:
        return require(entities, "device", device_id).to_dict()

    @patch("/{device_id:str}", summary="Change some of a device's fields", raises=MISSING)
    async def update_device(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        bus: NamedDependency[EventBus],
        device_id: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        async with entities.lock:
            current = require(entities, "device", device_id)
            old_type = current.config.__struct_config__.tag
            if data.get("type", old_type) != old_type:
                raise invalid("device", "type cannot be changed; create a new device instead")
            merged = {**msgspec.to_builtins(current.config), **without_read_only(data)}
            config = _decode(merged)
            changed = changed_fields(current.config, config)
            entity = await entities.update("device", device_id, config) if changed else current
        if changed:
            await engine.device_changed(device_id)
            fire_entity_event(
                bus, "device", "updated", device_id, entity_name=entity.name, changed_fields=changed
            )
        return entity.to_dict()

    @delete(
        "/{device_id:str}",
        summary="Delete a device no target uses",
        status_code=204,
        raises=MISSING_OR_CONFLICT,
    )
    async def delete_device(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        bus: NamedDependency[EventBus],
        device_id: FromPath[str],
    ) -> None:
        await delete_unused(entities, bus, "device", device_id, engine.is_running)
