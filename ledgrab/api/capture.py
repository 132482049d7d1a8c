"""GET /api/v1/sources/{id}/capture: a capture source's stream (sender, counters, errors)."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from ledgrab.api.entity_common import MISSING_OR_CONFLICT, iso_ms, require
from ledgrab.core.effects.capture_input import CaptureInputStats
from ledgrab.core.effects.capture_receiver import CaptureHub, ListenerStats
from ledgrab.core.effects.capture_source import capture_input_for, port_of
from ledgrab.storage.entities import EntityStore

__all__ = ["CaptureController", "CaptureState"]


class CaptureState(msgspec.Struct):
    source_id: str
    protocol: str
    port: int
    open: bool  # a running target listens for this stream
    live: bool  # a sender is streaming now
    sender: str | None
    priority: int | None
    started_at: str | None  # ISO-8601 UTC: when the current stream began
    stats: CaptureInputStats | None  # this input's counters; None: no running target reads it
    listener: ListenerStats | None  # the UDP port's counters (bad datagrams, unrouted, …)


class CaptureController(Controller):
    path = "/sources"
    tags = ["sources"]

    @get(
        "/{source_id:str}/capture",
        summary="A capture source's stream",
        sync_to_thread=False,
        raises=MISSING_OR_CONFLICT,
    )
    def capture_state(
        self,
        entities: NamedDependency[EntityStore],
        capture_hub: NamedDependency[CaptureHub],
        source_id: FromPath[str],
    ) -> CaptureState:
        entity = require(entities, "source", source_id)
        if entity.config.kind != "capture":
            raise HTTPException(
                status_code=409,
                detail=f"source {source_id} is a {entity.config.kind!r} source, not a capture one",
            )
        params = entity.config.params
        port = port_of(params)
        target = capture_input_for(params)
        state = target.state() if target is not None else {}
        stats = msgspec.structs.replace(target.stats) if target is not None else None
        listener = capture_hub.listener_stats(params.protocol, port)
        return CaptureState(
            source_id=source_id,
            protocol=params.protocol,
            port=port,
            open=target is not None,
            live=bool(state.get("live")),
            sender=state.get("sender"),
            priority=state.get("priority"),
            started_at=iso_ms(state.get("started_at")),
            stats=stats,
            listener=msgspec.structs.replace(listener) if listener is not None else None,
        )
