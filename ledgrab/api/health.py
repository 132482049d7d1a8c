"""GET /health: public liveness and the state of each component (database, activity log, …)."""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
from litestar import get
from litestar.datastructures import State

from ledgrab import __version__
from ledgrab.models.health import ComponentHealth
from ledgrab.utils.system_clock import ClockStatus

__all__ = ["ComponentHealth", "HealthResponse", "health"]


class HealthResponse(msgspec.Struct):
    status: str
    version: str
    uptime_s: float
    components: dict[str, ComponentHealth]
    # Whether the board's clock is synchronised (a Pi has no RTC): times in the activity log
    # from an unsynchronised clock may be off by days. Not part of `status`: a LAN without a
    # time server is a fact of the setup, not a fault.
    clock: ClockStatus | None = None


@get("/health", summary="Liveness and component state (public)", sync_to_thread=False)
def health(state: State) -> HealthResponse:
    providers: dict[str, Callable[[], ComponentHealth]] = state.health_providers
    components = {name: provider() for name, provider in providers.items()}
    degraded = any(c.state != "ok" for c in components.values())
    return HealthResponse(
        status="degraded" if degraded else "ok",
        version=__version__,
        uptime_s=round(time.monotonic() - state.started_monotonic, 3),
        components=components,
        clock=state.system_clock.status(settable=state.settings.clock.request_dir is not None),
    )
