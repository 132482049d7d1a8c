"""create_app(settings) -> Litestar: routes, dependencies and the whole lifespan order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.static_files import create_static_files_router

from ledgrab import __version__
from ledgrab.api import dependencies as deps
from ledgrab.api.auth import require_api_key
from ledgrab.api.events import events_ws
from ledgrab.api.health import ComponentHealth, health
from ledgrab.api.system import SystemController
from ledgrab.config import Settings
from ledgrab.core.activity_log.lifecycle import ActivityLog
from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.event_bus import EventBus
from ledgrab.storage.api_keys import ApiKeyStore
from ledgrab.storage.database import Database
from ledgrab.utils import sd_notify
from ledgrab.utils.log_broadcaster import LogBroadcaster

__all__ = ["DATABASE_FILE", "WEB_DIR", "create_app"]

log = logging.getLogger("ledgrab")
DATABASE_FILE = "ledgrab.db"
WEB_DIR = Path(__file__).parent / "web"


def _database_health(db: Database) -> ComponentHealth:
    if not db.is_open:
        return ComponentHealth("degraded", "the database is closed")
    if db.last_error:
        return ComponentHealth("degraded", db.last_error, {"queued_writes": db.queued_writes})
    return ComponentHealth("ok", details={"queued_writes": db.queued_writes})


def _activity_health(recorder: ActivityRecorder) -> ComponentHealth:
    status = recorder.status()
    details = {"pending": status.pending, "dropped": status.dropped_total}
    return ComponentHealth(status.state, status.reason, details)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Start in dependency order; stop in the order DESIGN.md fixes."""
    state = app.state
    settings: Settings = state.settings
    data_dir = Path(settings.data_dir)
    state.bus.bind(asyncio.get_running_loop())
    state.log_broadcaster.attach(state.bus)
    logging.getLogger().addHandler(state.log_broadcaster)

    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    db = Database(data_dir / DATABASE_FILE)
    await asyncio.to_thread(db.open)
    state.db = db
    state.health_providers["database"] = lambda: _database_health(db)

    activity = await ActivityLog.start(db, state.bus, settings.activity)
    state.activity = activity
    state.activity_recorder = activity.recorder
    state.activity_retention = activity.retention
    state.health_providers["activity_log"] = lambda: _activity_health(activity.recorder)

    state.api_keys = ApiKeyStore(db, settings.auth.api_keys)
    if settings.auth.enabled:
        written = await asyncio.to_thread(state.api_keys.bootstrap_blocking, data_dir)
        if written:
            log.warning("created the first API key (label 'admin'); it is in %s", written)
    else:
        log.warning("authentication is disabled: anyone on the network can change this device")

    watchdog = None
    if (interval := sd_notify.watchdog_interval()) is not None:
        watchdog = asyncio.create_task(sd_notify.watchdog_loop(interval), name="sd-watchdog")
    sd_notify.notify("READY=1")
    log.info("LedGrab %s started; data in %s", __version__, data_dir)
    activity.recorder.record(
        "system",
        "server.started",
        message=f"LedGrab {__version__} started on {settings.host}:{settings.port}",
        metadata={"version": __version__, "host": settings.host, "port": settings.port},
    )
    try:
        yield
    finally:
        # First, so that it is in the log whatever the steps below do.
        activity.recorder.record(
            "system", "server.shutting_down", message=f"LedGrab {__version__} shutting down"
        )
        sd_notify.notify("STOPPING=1")
        log.info("LedGrab shutting down")
        if watchdog is not None:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        await activity.stop_retention()
        # close() drains the writer: its last commit carries every entry still waiting.
        await asyncio.to_thread(db.close)
        activity.detach()
        logging.getLogger().removeHandler(state.log_broadcaster)
        state.log_broadcaster.attach(None)
        state.bus.unbind()


def create_app(settings: Settings) -> Litestar:
    """The LedGrab application; long-lived objects are created by its lifespan."""
    api = Router(
        path="/api/v1",
        guards=[require_api_key],
        route_handlers=[SystemController],
    )
    state = State(
        {
            "settings": settings,
            "bus": EventBus(),
            "log_broadcaster": LogBroadcaster(),
            "health_providers": {},
            "started_monotonic": time.monotonic(),
        }
    )
    web = create_static_files_router(
        path="/", directories=[WEB_DIR], html_mode=True, include_in_schema=False, name="web"
    )
    return Litestar(
        route_handlers=[health, api, events_ws, web],
        lifespan=[lifespan],
        logging_config=None,  # logging is configured once by `ledgrab serve`
        state=state,
        dependencies={
            "settings": Provide(deps.get_settings, sync_to_thread=False),
            "db": Provide(deps.get_database, sync_to_thread=False),
            "bus": Provide(deps.get_event_bus, sync_to_thread=False),
            "api_keys": Provide(deps.get_api_keys, sync_to_thread=False),
            "log_broadcaster": Provide(deps.get_log_broadcaster, sync_to_thread=False),
            "activity_recorder": Provide(deps.get_activity_recorder, sync_to_thread=False),
            "activity_log_repo": Provide(deps.get_activity_log_repo, sync_to_thread=False),
            "activity_log_retention_engine": Provide(
                deps.get_activity_log_retention_engine, sync_to_thread=False
            ),
        },
        openapi_config=OpenAPIConfig(
            title="LedGrab",
            version=__version__,
            path="/schema",
            # Only the JSON document: the HTML renderers load scripts from a CDN, blank offline.
            render_plugins=[JsonRenderPlugin()],
        ),
    )
