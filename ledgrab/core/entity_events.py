"""fire_entity_event(): the one hook every entity change passes through (bus event + listeners).

Listeners (the activity log, later) are attached per event bus, so two apps in one process never
see each other's changes. A listener gets an EntityEvent: names of changed fields, never values
(a device's fields may one day hold a secret). Listeners run synchronously in the caller's context
(so `current_actor` is the request's actor) and must not raise; one that does is logged and
skipped, never allowed to fail the request whose change is already committed.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable
from typing import Literal

import msgspec

from ledgrab.core.event_bus import EventBus

__all__ = [
    "EntityAction",
    "EntityEvent",
    "EntityListener",
    "EntityType",
    "add_entity_listener",
    "fire_entity_event",
]

log = logging.getLogger(__name__)

EntityType = Literal["device", "source", "target", "settings"]
EntityAction = Literal["created", "updated", "deleted", "started", "stopped"]


class EntityEvent(msgspec.Struct, frozen=True, kw_only=True):
    entity_type: str
    action: str
    entity_id: str
    entity_name: str | None = None
    changed_fields: tuple[str, ...] = ()

    @property
    def dotted_action(self) -> str:
        """The activity log's action name, e.g. `device.created`."""
        return f"{self.entity_type}.{self.action}"


EntityListener = Callable[[EntityEvent], None]

_listeners: weakref.WeakKeyDictionary[EventBus, list[EntityListener]] = weakref.WeakKeyDictionary()


def add_entity_listener(bus: EventBus, listener: EntityListener) -> Callable[[], None]:
    """Call `listener` for every entity event fired on `bus`; returns a function that detaches."""
    _listeners.setdefault(bus, []).append(listener)

    def remove() -> None:
        listeners = _listeners.get(bus, [])
        if listener in listeners:
            listeners.remove(listener)

    return remove


def fire_entity_event(
    bus: EventBus,
    entity_type: EntityType,
    action: EntityAction,
    entity_id: str,
    *,
    entity_name: str | None = None,
    changed_fields: Iterable[str] = (),
) -> EntityEvent:
    """Announce a committed change: `entity_changed` on the bus, then each attached listener."""
    event = EntityEvent(
        entity_type=entity_type,
        action=action,
        entity_id=entity_id,
        entity_name=entity_name,
        changed_fields=tuple(sorted(changed_fields)),
    )
    bus.publish(
        "entity_changed",
        {
            "entity_type": entity_type,
            "action": action,
            "entity_id": entity_id,
            "entity_name": entity_name,
            "changed_fields": list(event.changed_fields),
        },
    )
    for listener in list(_listeners.get(bus, ())):
        try:
            listener(event)
        except Exception:
            log.exception("entity listener %r failed on %s", listener, event.dotted_action)
    return event
