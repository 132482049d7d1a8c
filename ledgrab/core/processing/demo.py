"""The first-start demo: a virtual strip, a rainbow and a running target, so frames move."""

from __future__ import annotations

import logging

from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
from ledgrab.models.devices import VirtualDevice
from ledgrab.models.sources import RainbowSource
from ledgrab.models.targets import TargetConfig
from ledgrab.storage.entities import EntityStore

__all__ = ["create_demo"]

log = logging.getLogger(__name__)


async def create_demo(store: EntityStore, bus: EventBus) -> str:
    """Create the three demo entities (the target with auto_start); return the target id."""
    device = await store.create("device", VirtualDevice(name="Virtual strip", led_count=60))
    source = await store.create(
        "source",
        RainbowSource(name="Rainbow"),
    )
    target = await store.create(
        "target",
        TargetConfig(
            name="Demo", device_id=device.id, source_id=source.id, fps=30, auto_start=True
        ),
    )
    for entity in (device, source, target):
        fire_entity_event(bus, entity.kind, "created", entity.id, entity_name=entity.name)
    log.info("new database: created a virtual strip with a running rainbow (target %s)", target.id)
    return target.id
