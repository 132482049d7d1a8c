"""Where entries come from: the entity hook, and the event bus (discovery, device health, capture).

Each source turns one kind of happening into one entry with a message a person can read. The bus
adapter subscribes like any websocket client would, so the engine and discovery code need no
knowledge of the activity log; its backlog is bounded and a lag is itself recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import msgspec

from ledgrab.core.activity_log.context import SYSTEM
from ledgrab.core.entity_events import EntityEvent, add_entity_listener
from ledgrab.core.event_bus import EventBus
from ledgrab.utils.plain_text import plural
from ledgrab.utils.tasks import cancel_and_wait

__all__ = ["BusActivitySource", "EntityActivitySource", "quote"]

log = logging.getLogger(__name__)

BUS_TYPES = ("device_discovered", "device_lost", "capture_started", "capture_stopped",
             "device_state")  # fmt: skip
_setup: ContextVar[list[EntityEvent] | None] = ContextVar("ledgrab_activity_setup", default=None)


def quote(name: str | None, fallback: str) -> str:
    return f'"{name}"' if name else fallback


class EntityActivitySource:
    """Listens on the entity hook: create/update/delete are `entity` entries, a target's start
    and stop are `system` entries. Only field names are kept, never values."""

    def __init__(self, recorder: Any, bus: EventBus) -> None:
        self._recorder = recorder
        self._detach = add_entity_listener(bus, self._on_event)

    def close(self) -> None:
        self._detach()

    @contextlib.contextmanager
    def setup(self) -> Iterator[None]:
        """Entities created inside (the first-start demo) become one `system.setup` entry."""
        token = _setup.set([])
        try:
            yield
        finally:
            created = _setup.get() or []
            _setup.reset(token)
            if created:
                names = ", ".join(f"{e.entity_type} {quote(e.entity_name, e.entity_id)}"
                                  for e in created)  # fmt: skip
                self._recorder.record(
                    "system",
                    "system.setup",
                    actor=SYSTEM,
                    message=f"First start: created {names}",
                    metadata={"created": [[e.entity_type, e.entity_id] for e in created]},
                )

    def _on_event(self, event: EntityEvent) -> None:
        collecting = _setup.get()
        if collecting is not None:
            collecting.append(event)
            return
        kind = event.entity_type.capitalize()
        name = quote(event.entity_name, event.entity_id)
        fields = ", ".join(event.changed_fields)
        message = f"{kind} {name} {event.action}"
        metadata: dict[str, Any] = {}
        if event.changed_fields and event.action == "updated":
            message += f" ({fields})"
            metadata["fields"] = list(event.changed_fields)
        settings = event.entity_type == "settings"
        if settings:
            message = f"{event.entity_name or event.entity_id} settings changed: {fields}"
        category = "system" if event.action in ("started", "stopped") else "entity"
        self._recorder.record(
            category,
            event.dotted_action,
            entity_type=event.entity_type,
            entity_id=event.entity_id,
            entity_name=event.entity_name,
            message=message,
            metadata=metadata,
            _bypass_enabled=settings,  # switching the log off is itself recorded
        )


class BusActivitySource:
    """Records device discovery, device health transitions and capture streams from the bus."""

    def __init__(
        self,
        recorder: Any,
        bus: EventBus,
        device_name: Callable[[str], str | None] = lambda _id: None,
        backlog: int = 1024,
    ) -> None:
        self._recorder = recorder
        self.device_name = device_name
        self._subscription = bus.subscribe(BUS_TYPES, backlog=backlog)
        self._device_states: dict[str, str] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="activity-bus")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._subscription.close()

    async def _run(self) -> None:
        while True:
            message = msgspec.json.decode(await self._subscription.get())
            try:
                self.handle(message)
            except Exception:  # one odd event must not end the recording of all later ones
                log.exception("could not record bus event %s", message.get("type"))

    def handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "events_lagged":
            self._recorder.record(
                "system",
                "activity.events_missed",
                severity="warning",
                actor=SYSTEM,
                message=f"{plural(message['dropped'], 'device/capture event')} came too fast "
                "to record",
                metadata={"dropped": message["dropped"]},
            )
        elif kind in ("device_discovered", "device_lost"):
            self._discovery(kind, message["device"])
        elif kind in ("capture_started", "capture_stopped"):
            self._capture(kind, message)
        elif kind == "device_state":
            self._device_state(message)

    def _discovery(self, kind: str, device: dict[str, Any]) -> None:
        found = kind == "device_discovered"
        where = f"{device.get('host')}:{device.get('port')}"
        name = device.get("name")
        self._recorder.record(
            "device",
            "device.discovered" if found else "device.lost",
            actor=SYSTEM,
            entity_type="discovered_device",
            entity_id=device.get("service") or where,
            entity_name=name,
            message=f"{quote(name, 'A device')} "
            + (f"discovered at {where}" if found else f"left the network ({where})"),
            metadata={"host": device.get("host"), "port": device.get("port")},
        )

    def _capture(self, kind: str, event: dict[str, Any]) -> None:
        started = kind == "capture_started"
        name = event.get("source_name")
        protocol = str(event.get("protocol", "")).upper()
        sender = event.get("sender")
        text = (
            f"{protocol} capture into {quote(name, 'a source')} started from {sender}"
            if started
            else f"{protocol} capture into {quote(name, 'a source')} stopped "
            f"({event.get('reason', 'stopped')})"
        )
        self._recorder.record(
            "system",
            "capture.started" if started else "capture.stopped",
            actor=SYSTEM,
            entity_type="source",
            entity_id=event.get("source_id"),
            entity_name=name,
            message=text,
            metadata={
                k: event.get(k)
                for k in ("protocol", "priority", "sender", "reason")
                if event.get(k) is not None
            },
        )

    def _device_state(self, event: dict[str, Any]) -> None:
        device_id, state = event.get("device_id"), event.get("state")
        if not device_id or state is None:
            return
        before = self._device_states.get(device_id)
        self._device_states[device_id] = state
        connected = state == "open"
        if connected == (before == "open") and before is not None:
            return  # not a transition
        if before is None and not connected:
            return  # never connected yet: a failing first attempt is not a disconnection
        name = self.device_name(device_id)
        error = event.get("last_error")
        self._recorder.record(
            "device",
            "device.connected" if connected else "device.disconnected",
            severity="info" if connected else "warning",
            actor=SYSTEM,
            entity_type="device",
            entity_id=device_id,
            entity_name=name,
            message=f"Device {quote(name, device_id)} "
            + ("connected" if connected else "disconnected" + (f": {error}" if error else "")),
            metadata={"error": error} if error and not connected else {},
        )
