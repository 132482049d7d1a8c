"""/api/v1/activity/forwarders: the forwarders with their delivery status; PUT replaces the
whole list (secrets left out keep their stored values and are never shown)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, get, put
from litestar.datastructures import State
from litestar.di import NamedDependency

from ledgrab.api.entity_common import ConflictException
from ledgrab.api.openapi_doc import json_body_operation
from ledgrab.api.validation import field_error, invalid_fields, json_body
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
from ledgrab.core.forwarding.config import (
    DuplicateName,
    ForwarderConfigShown,
    validate_forwarders,
    view_of,
)
from ledgrab.core.forwarding.forwarder import ForwarderStatus
from ledgrab.core.forwarding.service import ForwardingService

__all__ = ["ForwarderState", "ForwardersResponse", "ForwardingController"]


class ForwarderState(msgspec.Struct, kw_only=True):
    config: ForwarderConfigShown  # type: ignore[valid-type]  # secrets null; `secrets_set` names those set
    secrets_set: list[str]
    source: str  # "api" (PUT replaces it) or "config" (the TOML file's [[forwarders]])
    status: ForwarderStatus | None  # None: disabled


class ForwardersResponse(msgspec.Struct):
    forwarders: list[ForwarderState]


def _response(service: ForwardingService) -> ForwardersResponse:
    statuses = service.statuses()
    fixed = {c.name for c in service.fixed}
    out = []
    for config in service.configs:
        view = view_of(config)
        out.append(
            ForwarderState(
                config=view.config,
                secrets_set=view.secrets_set,
                source="config" if config.name in fixed else "api",
                status=statuses.get(config.name),
            )
        )
    return ForwardersResponse(out)


class ForwardingController(Controller):
    path = "/activity/forwarders"
    tags = ["activity"]

    @get("/", summary="Forwarders (syslog, OTLP, webhook) and their delivery status")
    async def list_forwarders(self, state: State) -> ForwardersResponse:
        return _response(state.forwarding)

    @put(
        "/",
        summary="Replace the API's forwarders; a secret sent as null keeps its value",
        raises=[ConflictException],
        operation_class=json_body_operation("ForwarderList", "the whole list of forwarders"),
    )
    async def put_forwarders(
        self, request: Request, state: State, bus: NamedDependency[EventBus]
    ) -> ForwardersResponse:
        service: ForwardingService = state.forwarding
        raw = await json_body(request, "forwarders")
        try:
            configs = validate_forwarders(raw, service.stored())
        except DuplicateName as exc:  # each one valid, the list not: a clash, like the file's
            raise ConflictException(detail=str(exc)) from None
        except ValueError as exc:
            # The detail keeps the `$.forwarders[i]…` path the forwarders page reads.
            raise invalid_fields("forwarders", [field_error(exc)], detail=str(exc)) from None
        fixed = {c.name for c in service.fixed}
        for index, config in enumerate(configs):
            if config.name in fixed:  # a clash with the configuration file, not a bad value
                raise ConflictException(
                    detail=f"forwarder {config.name!r} is set in the configuration file; change "
                    f"it there - at `$.forwarders[{index}].name`",
                )
        changed = await service.replace(configs)
        if changed:
            fire_entity_event(
                bus,
                "settings",
                "updated",
                "activity_forwarders",
                entity_name="Activity forwarders",
                changed_fields=changed,
            )
        return _response(service)
