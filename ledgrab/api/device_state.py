"""GET /api/v1/devices/{id}/state: reachability (online, latency, last change) and the driver."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from ledgrab.api.entity_common import MISSING, iso_ms, require
from ledgrab.core.devices.base import DriverHealth
from ledgrab.core.processing.device_health import DeviceHealthMonitor
from ledgrab.core.processing.processor_manager import ProcessorManager
from ledgrab.storage.entities import EntityStore

__all__ = ["DeviceStateController", "DeviceStateResponse"]


class DeviceStateResponse(msgspec.Struct):
    device_id: str
    # online | offline | unconfirmed (sending, nothing confirms a receiver) | unknown (not
    # checked yet, or not checkable while idle)
    state: str
    online: bool | None
    latency_ms: float | None
    error: str | None
    # how it was checked: http, ddp-status, neighbour, icmp, none, resolve, serial, driver,
    # virtual, multicast
    method: str | None
    last_change: str | None
    last_check: str | None
    checks: int
    next_check_in_s: float | None
    driven_by: str | None  # the running target that drives it
    driver: DriverHealth | None


class DeviceStateController(Controller):
    path = "/devices"
    tags = ["devices"]

    @get(
        "/{device_id:str}/state",
        summary="Is the device reachable?",
        sync_to_thread=False,
        raises=MISSING,
    )
    def device_state(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        device_health: NamedDependency[DeviceHealthMonitor | None],
        device_id: FromPath[str],
    ) -> DeviceStateResponse:
        require(entities, "device", device_id)
        health = device_health.state(device_id) if device_health is not None else None
        driven_by, driver = None, None
        for target_id in engine.running_ids():
            runner = engine.runner(target_id)
            if runner is not None and runner.device_id == device_id:
                driven_by, driver = target_id, runner.driver.health()
        state = health.state if health is not None else "unknown"
        return DeviceStateResponse(
            device_id=device_id,
            state=state,
            online={"online": True, "offline": False}.get(state),
            latency_ms=health.latency_ms if health else None,
            error=health.error if health else None,
            method=health.method if health else None,
            last_change=iso_ms(health.last_change) if health else None,
            last_check=iso_ms(health.last_check) if health else None,
            checks=health.checks if health else 0,
            next_check_in_s=health.next_check_in_s if health else None,
            driven_by=driven_by,
            driver=driver,
        )
