"""/api/v1/devices: list, create (201), get, PATCH, delete (204; 409 while a target uses it)."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ledgrab.api.entity_common import (
    MISSING,
    MISSING_OR_CONFLICT,
    changed_fields,
    conflict,
    create_entity,
    delete_unused,
    merge_patch,
    require,
    shaped,
)
from ledgrab.api.validation import decode_strict
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.processor_manager import ProcessorManager
from ledgrab.models.bodies import DeviceOut, DevicePatch, patch_fields
from ledgrab.models.devices import DeviceConfig
from ledgrab.storage.entities import EntityStore

__all__ = ["DeviceController"]


class DeviceController(Controller):
    path = "/devices"
    tags = ["devices"]

    @get("/", summary="List devices", sync_to_thread=False)
    def list_devices(self, entities: NamedDependency[EntityStore]) -> list[DeviceOut]:
        return [shaped(e) for e in entities.all("device")]

    @post("/", summary="Create a device")
    async def create_device(
        self,
        request: Request,
        entities: NamedDependency[EntityStore],
        bus: NamedDependency[EventBus],
        data: JSONBody[DeviceConfig],
    ) -> DeviceOut:
        config = await decode_strict(request, DeviceConfig, "device")
        return shaped(await create_entity(entities, bus, "device", config))

    @get("/{device_id:str}", summary="One device", sync_to_thread=False, raises=MISSING)
    def get_device(
        self, entities: NamedDependency[EntityStore], device_id: FromPath[str]
    ) -> DeviceOut:
        return shaped(require(entities, "device", device_id))

    @patch(
        "/{device_id:str}",
        summary="Change some of a device's fields",
        raises=MISSING_OR_CONFLICT,
    )
    async def update_device(
        self,
        request: Request,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        bus: NamedDependency[EventBus],
        device_id: FromPath[str],
        data: JSONBody[DevicePatch],
    ) -> DeviceOut:
        changes = patch_fields(await decode_strict(request, DevicePatch, "device"))
        async with entities.lock:
            current = require(entities, "device", device_id)
            old_type = current.config.__struct_config__.tag
            if changes.pop("type", old_type) != old_type:
                raise conflict(
                    f"device {device_id} is a {old_type} device; its type cannot change "
                    "(create a new device instead)"
                )
            if stray := sorted(set(changes) - set(current.config.__struct_fields__)):
                raise conflict(f"{', '.join(stray)}: not a field of a {old_type} device")
            if "pin" in changes and "channel" not in changes and old_type == "ws281x":
                changes["channel"] = None  # the new pin's channel, not the old pin's
            config = merge_patch("device", current.config, changes)
            changed = changed_fields(current.config, config)
            entity = await entities.update("device", device_id, config) if changed else current
        if changed:
            await engine.device_changed(device_id)
            fire_entity_event(
                bus, "device", "updated", device_id, entity_name=entity.name, changed_fields=changed
            )
        return shaped(entity)

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
