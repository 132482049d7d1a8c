"""create_app(settings) -> Litestar: routes, dependencies and the whole lifespan order."""

from __future__ import annotations

import asyncio
import gc
import logging
import mimetypes
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import ValidationException
from litestar.openapi import OpenAPIConfig

from ledgrab import __version__, firstboot
from ledgrab.api import dependencies as deps
from ledgrab.api.activity import ActivityController
from ledgrab.api.allow_header import fix_allow_header
from ledgrab.api.auth import require_api_key
from ledgrab.api.backup import BackupController
from ledgrab.api.capture import CaptureController
from ledgrab.api.clock import ClockController
from ledgrab.api.controls import ControlsController
from ledgrab.api.device_state import DeviceStateController
from ledgrab.api.devices import DeviceController
from ledgrab.api.discovery import DiscoveryController
from ledgrab.api.events import events_ws
from ledgrab.api.forwarding import ForwardingController
from ledgrab.api.health import health
from ledgrab.api.openapi_doc import FinishedJsonRenderPlugin
from ledgrab.api.preview import PreviewController
from ledgrab.api.public_budget import API_PREFIX
from ledgrab.api.reference_page import api_reference
from ledgrab.api.sources import SourceController
from ledgrab.api.storage_errors import STORAGE_ERRORS, storage_error_handler
from ledgrab.api.system import SystemController
from ledgrab.api.targets import TargetController
from ledgrab.api.unhandled import log_unhandled
from ledgrab.api.validation import validation_error_handler
from ledgrab.api.web_ui import web_ui_router
from ledgrab.api.ws_feeds import AuthWaitingRoom, OpenFeeds
from ledgrab.config import EngineSettings, Settings
from ledgrab.core.activity_log.lifecycle import ActivityLog
from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.backup import lifecycle as backups
from ledgrab.core.backup.quarantine import RecoveryNotice
from ledgrab.core.backup.recovery import (
    DatabaseUnavailableError,
    open_live_database,
    record_recovery,
)
from ledgrab.core.devices.discovery_watcher import (
    Advertisement,
    DiscoveryWatcher,
    wled_led_count,
)
from ledgrab.core.devices.factory import DriverContext
from ledgrab.core.effects import capture_source
from ledgrab.core.effects.capture_receiver import CaptureHub
from ledgrab.core.event_bus import EventBus
from ledgrab.core.forwarding.config import validate_forwarders
from ledgrab.core.forwarding.service import ForwardingService
from ledgrab.core.log_broadcaster import LogBroadcaster
from ledgrab.core.processing.demo import create_demo
from ledgrab.core.processing.device_health import DeviceHealthMonitor, HealthTimings
from ledgrab.core.processing.pacer import FramePacer
from ledgrab.core.processing.processor_manager import ProcessorManager, TroubleListener
from ledgrab.core.processing.target_runner import RunnerTimings
from ledgrab.core.tls.service import TLS_DIR, TlsService
from ledgrab.models.health import ComponentHealth
from ledgrab.storage.api_keys import ApiKeyStore
from ledgrab.storage.data_migrations import SchemaTooNewError
from ledgrab.storage.database import Database
from ledgrab.storage.entities import EntityStore
from ledgrab.utils import sd_notify
from ledgrab.utils.address_budget import AddressBudget
from ledgrab.utils.files import remove_leftover_temporaries
from ledgrab.utils.logging_setup import demote_chatter
from ledgrab.utils.system_clock import SystemClock, boot_id
from ledgrab.utils.tasks import cancel_and_wait

__all__ = ["DATABASE_FILE", "WEB_DIR", "create_app"]

log = logging.getLogger("ledgrab")
DATABASE_FILE = "ledgrab.db"
SWITCH_INTERVAL_S = 0.00025
WEB_DIR = Path(__file__).parent / "web"


def _database_health(db: Database) -> ComponentHealth:
    if not db.is_open:
        return ComponentHealth("degraded", db.last_error or "the database is closed")
    details = {"queued_writes": db.queued_writes}
    if db.fault is not None:  # cleared by the next commit that writes
        return ComponentHealth("degraded", db.fault.summary, {**details, "fault": db.fault.kind})
    return ComponentHealth("ok", details=details)


def _drop_traceback_of(exc: BaseException) -> logging.Filter:
    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return str(exc) not in record.getMessage()

    return _Drop()


def _recovery_health(notice: RecoveryNotice) -> ComponentHealth:
    reason = notice.reason()
    if reason is None:
        return ComponentHealth("ok")
    return ComponentHealth("degraded", reason, dict(notice.pending or {}))


def _discovery_watcher(
    settings: Settings, bus: EventBus, tls: TlsService | None
) -> DiscoveryWatcher:
    config = settings.discovery
    port = config.advertise_port if config.advertise_port is not None else settings.port
    advertisement = None
    if config.advertise and port:
        name = config.instance_name or f"LedGrab {socket.gethostname().split('.')[0]}"
        advertisement = Advertisement(
            instance_name=name,
            port=port,
            version=__version__,
            fingerprint=tls.fingerprint if tls is not None else None,
        )
    return DiscoveryWatcher(
        bus,
        interfaces=config.interfaces,
        advertisement=advertisement,
        max_devices=config.max_devices,
        led_count_fetcher=wled_led_count if config.fetch_led_count else None,
    )


def _engine(
    entities: EntityStore, bus: EventBus, engine: EngineSettings, trouble: TroubleListener
) -> ProcessorManager:
    return ProcessorManager(
        entities,
        bus,
        trouble=trouble,
        frame_thread=engine.frame_thread,
        frame_priority=engine.frame_priority,
        timings=RunnerTimings(
            reconnect_initial_s=engine.reconnect_initial_s,
            reconnect_max_s=engine.reconnect_max_s,
            state_interval_s=engine.state_interval_s,
        ),
        context=DriverContext(
            leds_dev_dir=engine.leds_dev_dir,
            http_timeout_s=engine.http_timeout_s,
            pacer=FramePacer(
                lead_s=engine.send_ahead_ms / 1000,
                priority=engine.frame_priority,
                on_demand=engine.pacing == "on-demand",
            ),
        ),
    )


def _capture_describer(entities: EntityStore) -> capture_source.Describe:
    def describe(params: capture_source.CaptureParams) -> tuple[str | None, str | None]:
        for entity in entities.all("source"):
            config = entity.config
            if config.kind == "capture" and capture_source.same_stream(config.params, params):
                return entity.id, entity.name
        return None, None

    return describe


def _known_network_devices(entities: EntityStore) -> list[tuple[str, int | None, str]]:
    """(address in lower case, HTTP port for a WLED else None, device id) of network devices,
    for telling which discovered WLED is already a device here."""
    return [
        (str(e.config.address).lower(), getattr(e.config, "http_port", None), e.id)
        for e in entities.all("device")
        if getattr(e.config, "address", None)
    ]


def _activity_health(recorder: ActivityRecorder) -> ComponentHealth:
    status = recorder.status()
    details = {"pending": status.pending, "dropped": status.dropped_total}
    return ComponentHealth(status.state, status.reason, details)


async def _report_first_boot(state: State, data_dir: Path, recorder: ActivityRecorder) -> None:
    """Show the SD-card image's first-boot report (a bad line in ledgrab.txt) on /health and in
    the activity log; nothing when the device was not set up from the image."""
    report = await asyncio.to_thread(firstboot.read_report, data_dir)
    if report is None:
        return
    health, reason, details = firstboot.summary(report)
    state.health_providers["firstboot"] = lambda: ComponentHealth(health, reason, details)
    if reason:
        log.warning("first-boot settings had problems: %s", reason)
        recorder.record(
            "system",
            "firstboot.problems",
            severity="warning",
            message=f"The first-boot settings file had problems: {reason}",
            metadata={"problems": details["problems"]},
        )


async def _start_forwarding(
    db: Database, activity: ActivityLog, settings: Settings
) -> ForwardingService:
    """The activity-log forwarders (issue 15): off the event loop, each in its own thread."""
    device_id = activity.key.origin.rsplit("/", 1)[-1] if activity.key else socket.gethostname()
    fixed = validate_forwarders({"forwarders": settings.forwarders}, [])  # checked at load
    return await ForwardingService.start(
        db, activity.recorder, settings.forwarding, device_id, fixed
    )


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Start in dependency order; stop in the order docs/architecture.md gives."""
    state = app.state
    settings: Settings = state.settings
    data_dir = Path(settings.data_dir)
    state.bus.bind(asyncio.get_running_loop())
    # The static UI's first response would otherwise read /etc/mime.types on the event loop.
    await asyncio.to_thread(mimetypes.init)
    state.log_broadcaster.attach(state.bus)
    logging.getLogger().addHandler(state.log_broadcaster)
    demote_chatter()

    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    state.system_clock.boot = await asyncio.to_thread(boot_id)
    # Takes the data-dir lock; only a file SQLite calls corrupt is moved aside (then a fresh
    # one is created). A full, read-only or failing card stops the start and touches nothing.
    try:
        opened = await asyncio.to_thread(
            open_live_database, data_dir, DATABASE_FILE, settings.backup.keep_corrupt
        )
    except (DatabaseUnavailableError, SchemaTooNewError) as exc:
        log.critical("%s", exc)
        # That line is the whole story; uvicorn would follow it with the startup traceback.
        logging.getLogger("uvicorn.error").addFilter(_drop_traceback_of(exc))
        raise
    state.db = db = opened.db
    state.health_providers["database"] = lambda: _database_health(db)
    # The lock is held and nothing here writes a file whole yet: any .<name>.tmp is a cut's.
    for directory in (data_dir, data_dir / TLS_DIR):
        if removed := await asyncio.to_thread(remove_leftover_temporaries, directory):
            log.warning("removed what a power cut left half written in %s: %s", directory, removed)
    new_database = 1 in opened.applied

    activity = await ActivityLog.start(
        db,
        state.bus,
        settings.activity,
        str(data_dir),
        system_clock=state.system_clock,
        clock_check_s=settings.clock.check_s,
    )
    state.activity = activity
    state.activity_recorder = activity.recorder
    state.activity_retention = activity.retention
    state.health_providers["activity_log"] = lambda: _activity_health(activity.recorder)
    state.recovery_notice = notice = RecoveryNotice(db)
    if opened.recovery is not None:
        record_recovery(opened.recovery)  # the first entry of the new (or rebuilt) log
        await notice.remember(opened.recovery)
    else:
        await notice.load()
    state.health_providers["database_recovery"] = lambda: _recovery_health(notice)
    state.forwarding = forwarding = await _start_forwarding(db, activity, settings)
    state.health_providers["forwarding"] = lambda: ComponentHealth(*forwarding.health())

    state.api_keys = ApiKeyStore(db, settings.auth.api_keys)
    state.feeds = OpenFeeds(state.api_keys, asyncio.get_running_loop())
    auth = settings.auth
    state.refusals = AddressBudget(
        free=auth.free_refusals_per_minute, delay_s=auth.over_budget_delay_s
    )
    state.public_requests = AddressBudget(
        free=auth.free_public_requests_per_minute, delay_s=auth.over_budget_delay_s
    )
    state.ws_waiting_room = AuthWaitingRoom(
        settings.server.ws_max_unauthenticated, settings.server.ws_max_unauthenticated_per_address
    )
    if settings.auth.enabled:
        written = await asyncio.to_thread(state.api_keys.bootstrap_blocking, data_dir)
        if written:
            log.warning("created the first API key (label 'admin'); it is in %s", written)
    else:
        log.warning("authentication is disabled: anyone on the network can change this device")
        activity.recorder.record(
            "auth",
            "auth.disabled",
            severity="warning",
            message="Authentication is disabled: anyone on the network can change this device",
        )

    await _report_first_boot(state, data_dir, activity.recorder)
    tls: TlsService | None = state.tls
    if tls is not None:
        state.health_providers["tls"] = lambda: ComponentHealth(*tls.health())
        await tls.start(
            activity.recorder, settings.host, settings.port, state.public_requests.held_s
        )

    state.capture_hub = CaptureHub(
        bus=state.bus,
        bind_host=settings.capture.bind_host,
        multicast=settings.capture.multicast,
        multicast_interface=settings.capture.multicast_interface,
    )
    state.entities = EntityStore(db)
    await state.entities.load()
    entities = state.entities
    activity.bus_source.device_name = lambda i: e.name if (e := entities.get("device", i)) else None
    capture_source.set_capture_hub(
        state.capture_hub,
        ddp_port=settings.capture.ddp_port,
        e131_port=settings.capture.e131_port,
        describe=_capture_describer(state.entities),
    )
    state.known_network_devices = lambda: _known_network_devices(state.entities)
    state.engine = _engine(state.entities, state.bus, settings.engine, activity.target_trouble)
    state.health_providers["frame_pacer"] = lambda: ComponentHealth(*state.engine.pacer.health())
    if new_database and settings.demo_on_first_start:
        with activity.entities.setup():  # one `system.setup` entry, not one per entity
            await create_demo(state.entities, state.bus)
    await state.engine.resume()
    state.device_health = None
    if settings.health.enabled:
        config = settings.health
        state.device_health = DeviceHealthMonitor(
            state.entities,
            state.bus,
            state.engine,
            HealthTimings(
                interval_s=config.interval_s,
                max_interval_s=max(config.max_interval_s, config.interval_s),
                timeout_s=config.timeout_s,
                concurrency=config.concurrency,
            ),
        )
        state.device_health.start()
    state.discovery = _discovery_watcher(settings, state.bus, tls)
    if settings.discovery.enabled:
        await state.discovery.start()  # in the background: mDNS probing takes seconds
        if tls is not None:
            tls.on_new_certificate.append(state.discovery.readvertise_fingerprint_blocking)

    await backups.start(state)
    state.backup.after_restore.append(forwarding.load)  # the restored file's forwarders

    # Rereads the keys every few seconds: a `ledgrab keys revoke` from another process reaches
    # requests and open feeds without anyone having to present the revoked key first.
    key_watch = asyncio.create_task(state.api_keys.watch(), name="api-key-watch")
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
    # A start is worth a commit of its own: the log shows it at once, and a service that
    # crashes within its first batch window still leaves one entry per start.
    try:
        await activity.recorder.commit_now()
    except Exception as exc:  # a failing card must not stop the service from serving
        log.warning("could not commit the startup entries yet: %s", exc)
    # Everything built so far (modules, routes, settings) lives as long as the process: moved
    # out of the collector's view, a full collection scans only newer objects. Unfrozen, one
    # took 60-80 ms here (far longer on a Pi Zero): several frames lost at once.
    gc.freeze()
    # A thread running Python keeps the GIL until asked, then up to this long: the real-time
    # frame thread, awake on time, waits this long for the lock when the server's thread is busy
    # in Python. 5 ms by default; 1 ms halved a tick's lateness beside a busy reader thread
    # (benchmarks/gil_holds.py), 0.25 ms halved it again under request load (docs/engine.md).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        # First, so that it is in the log whatever the steps below do.
        activity.recorder.record(
            "system", "server.shutting_down", message=f"LedGrab {__version__} shutting down"
        )
        sd_notify.notify("STOPPING=1")
        log.info("LedGrab shutting down")
        await cancel_and_wait(watchdog)
        await cancel_and_wait(key_watch)
        if tls is not None:
            await tls.stop()
        await state.engine.stop_all()
        if state.device_health is not None:
            await state.device_health.stop()
        await state.engine.run_on_frames(state.capture_hub.close)
        await state.engine.close()
        capture_source.set_capture_hub(None)
        await state.discovery.stop()
        gc.unfreeze()
        await backups.stop(state)
        await state.forwarding.stop()  # its cursors ride on the database's closing commit
        await activity.stop_retention()
        # close() drains the writer: its last commit carries every entry still waiting.
        await asyncio.to_thread(db.close)
        activity.detach()
        opened.lock.release()
        logging.getLogger().removeHandler(state.log_broadcaster)
        state.log_broadcaster.attach(None)
        state.bus.unbind()


def create_app(settings: Settings, tls: TlsService | None = None) -> Litestar:
    """The LedGrab application; long-lived objects are created by its lifespan. `tls`, prepared,
    is the HTTPS its server serves (renewed and reported here); None: plain HTTP in tests."""
    api = Router(
        path=API_PREFIX,
        guards=[require_api_key],
        route_handlers=[
            SystemController,
            DeviceController,
            DiscoveryController,
            DeviceStateController,
            CaptureController,
            SourceController,
            TargetController,
            ControlsController,
            ClockController,
            PreviewController,
            BackupController,
            ForwardingController,
            ActivityController,
        ],
    )
    state = State(
        {
            "settings": settings,
            "bus": EventBus(),
            "log_broadcaster": LogBroadcaster(),
            "health_providers": {},
            "tls": tls,
            "started_monotonic": time.monotonic(),
            # The wall clock, time since boot and the kernel's sync flag (tests replace them);
            # the boot id is read at startup.
            "system_clock": SystemClock(None),
        }
    )
    return Litestar(
        route_handlers=[health, api_reference, api, events_ws, web_ui_router(WEB_DIR)],
        lifespan=[lifespan],
        exception_handlers={
            **dict.fromkeys(STORAGE_ERRORS, storage_error_handler),
            ValidationException: validation_error_handler,
        },
        logging_config=None,  # logging is configured once by `ledgrab serve`
        after_exception=[log_unhandled],
        before_send=[fix_allow_header],
        state=state,
        # Bodies of the JSON API; the restore route sets its own bound ([backup] max_upload_bytes).
        request_max_body_size=settings.server.max_body_bytes,
        dependencies={
            "settings": Provide(deps.get_settings, sync_to_thread=False),
            "db": Provide(deps.get_database, sync_to_thread=False),
            "bus": Provide(deps.get_event_bus, sync_to_thread=False),
            "api_keys": Provide(deps.get_api_keys, sync_to_thread=False),
            "log_broadcaster": Provide(deps.get_log_broadcaster, sync_to_thread=False),
            "activity": Provide(deps.get_activity_log, sync_to_thread=False),
            "discovery": Provide(deps.get_discovery, sync_to_thread=False),
            "device_health": Provide(deps.get_device_health, sync_to_thread=False),
            "capture_hub": Provide(deps.get_capture_hub, sync_to_thread=False),
            "backup": Provide(deps.get_backup_service, sync_to_thread=False),
            "auto_backup": Provide(deps.get_auto_backup, sync_to_thread=False),
            "entities": Provide(deps.get_entities, sync_to_thread=False),
            "engine": Provide(deps.get_engine, sync_to_thread=False),
            "activity_recorder": Provide(deps.get_activity_recorder, sync_to_thread=False),
        },
        openapi_config=OpenAPIConfig(
            title="LedGrab",
            version=__version__,
            path="/schema",
            # Only the JSON document: the HTML renderers load scripts from a CDN, blank offline.
            render_plugins=[FinishedJsonRenderPlugin()],
        ),
    )
