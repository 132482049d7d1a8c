"""Periodic per-device reachability checks; an event and a log line only when a device changes
between online and offline; a device that stays down is checked less and less often."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import msgspec

from ledgrab.core.devices.reachability import probe_udp_receiver
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.processor_manager import ProcessorManager
from ledgrab.storage.entities import Entity, EntityStore
from ledgrab.utils.lan_address import AddressRefused, resolve_lan_address

__all__ = ["CheckResult", "DeviceHealth", "DeviceHealthMonitor", "HealthTimings"]

log = logging.getLogger("ledgrab.health")


class HealthTimings(msgspec.Struct, frozen=True, kw_only=True):
    interval_s: float = 15.0  # between checks of a device that answers
    max_interval_s: float = 300.0  # the backoff's ceiling for a device that does not
    timeout_s: float = 2.0  # one check's limit
    concurrency: int = 8  # checks in flight at once


class CheckResult(msgspec.Struct, kw_only=True):
    online: bool | None  # None: this type cannot be checked while no target drives it
    latency_ms: float | None = None
    error: str | None = None
    method: str
    unconfirmed: bool = False  # frames go out, but nothing confirms that anything receives them


class DeviceHealth(msgspec.Struct, kw_only=True):
    device_id: str
    state: str  # online | offline | unconfirmed (sending, no confirmation) | unknown
    latency_ms: float | None
    error: str | None
    method: str | None
    last_change: float | None  # unix time of the last online/offline transition
    last_check: float | None
    checks: int
    next_check_in_s: float | None


class _Tracked:
    __slots__ = ("config", "due", "failures", "health", "in_flight")

    def __init__(self, device_id: str, config: Any) -> None:
        self.config = config
        self.due = 0.0
        self.failures = 0
        self.in_flight = False
        self.health = DeviceHealth(
            device_id=device_id,
            state="unknown",
            latency_ms=None,
            error=None,
            method=None,
            last_change=None,
            last_check=None,
            checks=0,
            next_check_in_s=None,
        )


class DeviceHealthMonitor:
    """start()/stop() on the loop; state(device_id) any time. Devices are read from the entity
    store at every tick, so created, changed and deleted devices need no hook."""

    def __init__(
        self,
        entities: EntityStore,
        bus: EventBus,
        engine: ProcessorManager | None = None,
        timings: HealthTimings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entities = entities
        self._bus = bus
        self._engine = engine
        self.timings = timings or HealthTimings()
        self._clock = clock
        self._tracked: dict[str, _Tracked] = {}
        self._task: asyncio.Task[None] | None = None
        self._checks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.timings.concurrency)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="device-health")

    async def stop(self) -> None:
        task, self._task = self._task, None
        for pending in [task, *self._checks]:
            if pending is not None:
                pending.cancel()
        for pending in [task, *self._checks]:
            if pending is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await pending

    def state(self, device_id: str) -> DeviceHealth | None:
        tracked = self._tracked.get(device_id)
        if tracked is None:
            return None
        health = msgspec.structs.replace(tracked.health)
        if health.last_check is not None:
            health.next_check_in_s = round(max(0.0, tracked.due - self._clock()), 3)
        return health

    # ---- scheduling ------------------------------------------------------------------------

    async def _run(self) -> None:
        tick = min(1.0, self.timings.interval_s / 2)
        while True:
            self._tick()
            await asyncio.sleep(tick)

    def _tick(self) -> None:
        now = self._clock()
        devices = {e.id: e for e in self._entities.all("device")}
        for gone in self._tracked.keys() - devices.keys():
            del self._tracked[gone]
        for device_id, entity in devices.items():
            tracked = self._tracked.get(device_id)
            if tracked is None or tracked.config is not entity.config:
                # new, or edited (a new address): start over and check at once
                tracked = self._tracked[device_id] = _Tracked(device_id, entity.config)
            if tracked.in_flight or now < tracked.due:
                continue
            tracked.in_flight = True
            check = asyncio.get_running_loop().create_task(self._check(entity, tracked))
            self._checks.add(check)
            check.add_done_callback(self._checks.discard)

    async def _check(self, entity: Entity, tracked: _Tracked) -> None:
        try:
            async with self._slots:
                try:
                    result = await asyncio.wait_for(self._probe(entity), self.timings.timeout_s + 1)
                except TimeoutError:
                    result = CheckResult(online=False, error="the check timed out", method="?")
            self._record(entity, tracked, result)
        finally:
            tracked.in_flight = False

    def _record(self, entity: Entity, tracked: _Tracked, result: CheckResult) -> None:
        if self._tracked.get(entity.id) is not tracked:
            return  # deleted or edited while the check ran
        health, now = tracked.health, time.time()
        health.checks += 1
        health.last_check = now
        health.method = result.method
        health.latency_ms = result.latency_ms
        health.error = result.error
        if result.online is False:
            tracked.failures += 1
            # doubling from the normal interval: 2x, 4x, … up to the ceiling
            delay = min(self.timings.interval_s * 2**tracked.failures, self.timings.max_interval_s)
        else:
            tracked.failures = 0
            delay = self.timings.interval_s
        tracked.due = self._clock() + delay
        new_state = {True: "online", False: "offline", None: "unknown"}[result.online]
        if result.unconfirmed:
            new_state = "unconfirmed"
        old_state, health.state = health.state, new_state
        if new_state == old_state:
            return
        health.last_change = now
        if new_state == "online":
            self._device_online(entity, health, was=old_state)
        elif new_state == "offline":
            self._device_offline(entity, health, was=old_state)
        else:
            self._publish(entity, health)

    # ---- transitions: one call site each --------------------------------------------------

    def _device_online(self, entity: Entity, health: DeviceHealth, *, was: str) -> None:
        if was == "offline":
            log.info("device %s is back online (%s)", entity.name, health.method)
        self._publish(entity, health)

    def _device_offline(self, entity: Entity, health: DeviceHealth, *, was: str) -> None:
        log.warning("device %s is offline: %s", entity.name, health.error)
        self._publish(entity, health)

    def _publish(self, entity: Entity, health: DeviceHealth) -> None:
        self._bus.publish(
            "device_health",
            {
                "device_id": entity.id,
                "device_name": entity.name,
                "state": health.state,
                "latency_ms": health.latency_ms,
                "error": health.error,
                "method": health.method,
                "at": health.last_change,
            },
        )

    # ---- probes per device type ------------------------------------------------------------

    async def _probe(self, entity: Entity) -> CheckResult:
        config = entity.config
        kind = config.__struct_config__.tag
        if kind == "virtual":
            return CheckResult(online=True, latency_ms=0.0, method="virtual")
        if kind == "wled":
            return await self._probe_wled(config.address, config.http_port)
        if kind in ("ddp", "e131"):
            return await self._probe_udp(config, kind)
        driver = self._driving(entity.id)
        if driver is not None:
            state = driver.health()
            return CheckResult(
                online=state.state == "open", error=state.last_error, method="driver"
            )
        if kind == "adalight":
            return await asyncio.to_thread(_probe_serial, config.serial_port)
        return CheckResult(online=None, method="not driven")  # ws281x: known once initialised

    def _driving(self, device_id: str) -> Any:
        if self._engine is None:
            return None
        for target_id in self._engine.running_ids():
            runner = self._engine.runner(target_id)
            if runner is not None and runner.device_id == device_id:
                return runner.driver
        return None

    async def _probe_wled(self, address: str, http_port: int) -> CheckResult:
        import httpx  # on first use: it adds ~5 MB resident to a server that may never need it

        started = time.perf_counter()
        try:
            host, _ = await resolve_lan_address(address, http_port)
            if ":" in host:
                host = f"[{host}]"
            async with httpx.AsyncClient(timeout=self.timings.timeout_s) as client:
                response = await client.get(f"http://{host}:{http_port}/json/info")
            latency = round((time.perf_counter() - started) * 1000, 2)
            if response.status_code != 200:
                return _offline(f"/json/info answered HTTP {response.status_code}", "http")
            if not isinstance(response.json(), dict):
                return _offline("/json/info is not a JSON object", "http")
        except (OSError, AddressRefused, httpx.HTTPError, ValueError) as exc:
            return _offline(f"WLED at {address}:{http_port}: {exc or type(exc).__name__}", "http")
        return CheckResult(online=True, latency_ms=latency, method="http")

    async def _probe_udp(self, config: Any, kind: str) -> CheckResult:
        if getattr(config, "multicast", False):
            return CheckResult(online=None, unconfirmed=True, method="multicast",
                               error="multicast: sending, no confirmation")  # fmt: skip
        seen = await probe_udp_receiver(config.address, config.port, kind, self.timings.timeout_s)
        online = {"online": True, "offline": False}.get(seen.state)
        return CheckResult(
            online=online, latency_ms=seen.latency_ms, error=seen.error, method=seen.method,
            unconfirmed=seen.state == "unconfirmed",
        )  # fmt: skip


def _offline(error: str, method: str) -> CheckResult:
    return CheckResult(online=False, error=error, method=method)


def _probe_serial(path: str) -> CheckResult:
    # Exists and opens read-write; closed again at once (no settings, no bytes sent).
    started = time.perf_counter()
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        return _offline(f"{path}: {exc.strerror or exc}", "serial")
    os.close(fd)
    return CheckResult(
        online=True, latency_ms=round((time.perf_counter() - started) * 1000, 2), method="serial"
    )
