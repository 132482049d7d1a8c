"""GET /api/v1/devices/discovered and POST /api/v1/devices/discover: WLEDs found over mDNS."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import QueryParameter

from ledgrab.api.entity_common import ConflictException, iso_ms
from ledgrab.config import Settings
from ledgrab.core.devices.discovery_watcher import (
    DiscoveredDevice,
    DiscoveryUnavailable,
    DiscoveryWatcher,
)

__all__ = ["DiscoveredDeviceOut", "DiscoveryController", "DiscoveryResponse"]

# Set by the app: (address, WLED HTTP port or None, device id) of each network device.
KnownDevices = Callable[[], list[tuple[str, int | None, str]]]


class DiscoveredDeviceOut(msgspec.Struct):
    name: str
    host: str
    hostname: str | None
    port: int
    mac: str | None
    led_count: int | None
    first_seen: str
    last_seen: str
    device_id: str | None  # the existing LedGrab device at this address, if there is one


class DiscoveryResponse(msgspec.Struct):
    state: str  # running | failed | stopped | disabled
    error: str | None
    devices: list[DiscoveredDeviceOut]


def _response(state: State, watcher: DiscoveryWatcher, enabled: bool) -> DiscoveryResponse:
    known_devices: KnownDevices | None = state.get("known_network_devices")
    known = known_devices() if known_devices is not None else []

    def match(d: DiscoveredDevice, hostname: str) -> str | None:
        # A WLED device matches on address and HTTP port (several can share a test host);
        # a plain DDP/E1.31 device pointing at the same address is that WLED too.
        names = {d.host, hostname.lower()} - {""}
        for address, http_port, device_id in known:
            if address in names and http_port in (None, d.port):
                return device_id
        return None

    def out(d: DiscoveredDevice) -> DiscoveredDeviceOut:
        hostname = (d.hostname or "").rstrip(".")
        return DiscoveredDeviceOut(
            name=d.name,
            host=d.host,
            hostname=hostname or None,
            port=d.port,
            mac=d.mac,
            led_count=d.led_count,
            first_seen=iso_ms(d.first_seen),
            last_seen=iso_ms(d.last_seen),
            device_id=match(d, hostname),
        )

    return DiscoveryResponse(
        state=watcher.state if enabled else "disabled",
        error=watcher.error,
        devices=[out(d) for d in watcher.devices()],
    )


class DiscoveryController(Controller):
    path = "/devices"
    tags = ["devices"]

    @get("/discovered", summary="WLEDs seen over mDNS", sync_to_thread=False)
    def discovered(
        self,
        state: State,
        settings: NamedDependency[Settings],
        discovery: NamedDependency[DiscoveryWatcher],
    ) -> DiscoveryResponse:
        return _response(state, discovery, settings.discovery.enabled)

    @post(
        "/discover",
        summary="Scan for WLEDs now (bounded by timeout_s)",
        status_code=200,
        raises=[ConflictException],
    )
    async def discover(
        self,
        state: State,
        settings: NamedDependency[Settings],
        discovery: NamedDependency[DiscoveryWatcher],
        timeout_s: Annotated[
            float | None,
            QueryParameter(ge=0.2, le=30, description="seconds to listen (default from config)"),
        ] = None,
    ) -> DiscoveryResponse:
        if not settings.discovery.enabled:
            raise HTTPException(
                status_code=409,
                detail="discovery is turned off ([discovery] enabled = false); add devices by "
                "address, or turn it on and restart",
            )
        # Concurrent requests share one scan, so a burst of clicks cannot pile up browsers.
        running: asyncio.Task | None = state.get("discovery_scan")
        if running is None or running.done():
            timeout = timeout_s if timeout_s is not None else settings.discovery.scan_timeout_s
            running = asyncio.create_task(discovery.scan(timeout), name="discovery-scan")
            state.discovery_scan = running
        try:
            await asyncio.shield(running)
        except DiscoveryUnavailable as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from None
        return _response(state, discovery, True)
