"""The discovery watcher on real zeroconf over loopback: a WLED advertised by another process
is found (with its LED count from its JSON API), then lost when it withdraws; LedGrab advertises
itself as _ledgrab._tcp and _http._tcp with its version and API path."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
from zeroconf import Zeroconf

from ledgrab import __version__
from ledgrab.core.devices.discovery_watcher import (
    HTTP_TYPE,
    LEDGRAB_TYPE,
    Advertisement,
    DiscoveryWatcher,
)
from ledgrab.core.event_bus import EventBus
from tests.support.fake_wled import AdvertiserProcess, FakeWled

LOOPBACK = ["127.0.0.1"]


async def _next(sub, timeout: float = 20.0) -> dict:
    return msgspec.json.decode(await asyncio.wait_for(sub.get(), timeout))


def test_wled_in_another_process_is_found_then_lost():
    name = f"wled-{uuid.uuid4().hex[:8]}"

    async def scenario(wled_port: int) -> None:
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        sub = bus.subscribe(["device_discovered", "device_lost"])
        watcher = DiscoveryWatcher(bus, interfaces=LOOPBACK)
        await watcher.start()
        advertiser = await asyncio.to_thread(AdvertiserProcess, name, wled_port, "0a0b0c0d0e0f")
        try:
            assert await asyncio.to_thread(advertiser.wait_line) == "registered"
            found = await _next(sub)
            # other test runs may share loopback mDNS: skip anything that is not ours
            while found["device"]["name"] != name:
                found = await _next(sub)
            assert found["type"] == "device_discovered"
            device = found["device"]
            assert (device["host"], device["port"]) == ("127.0.0.1", wled_port)
            assert device["mac"] == "0a0b0c0d0e0f"
            assert device["led_count"] == 42
            assert name in [d.name for d in watcher.devices()]

            await asyncio.to_thread(advertiser.withdraw)
            lost = await _next(sub)
            while lost["type"] != "device_lost" or lost["device"]["name"] != name:
                lost = await _next(sub)
            assert name not in [d.name for d in watcher.devices()]
        finally:
            await asyncio.to_thread(advertiser.stop)
            await watcher.stop()
            bus.unbind()

    with FakeWled(led_count=42) as wled:
        asyncio.run(scenario(wled.port))


def test_ledgrab_advertises_itself_with_version_and_api_path():
    instance = f"LedGrab test {uuid.uuid4().hex[:6]}"
    watcher = DiscoveryWatcher(
        EventBus(),
        interfaces=LOOPBACK,
        advertisement=Advertisement(instance_name=instance, port=18080, version=__version__),
    )
    watcher.start_blocking()
    browser = Zeroconf(interfaces=LOOPBACK)
    try:
        assert watcher.state == "running"
        for service_type in (LEDGRAB_TYPE, HTTP_TYPE):
            info = browser.get_service_info(service_type, f"{instance}.{service_type}", 5000)
            assert info is not None, service_type
            assert info.port == 18080
            assert info.parsed_addresses() == ["127.0.0.1"]
            assert info.properties[b"version"] == __version__.encode()
            assert info.properties[b"api"] == b"/api/v1"
    finally:
        browser.close()
        watcher.stop_blocking()
    assert watcher.state == "stopped"


def test_no_usable_interface_is_a_warning_not_a_crash(caplog):
    # 198.51.100.1 (TEST-NET-2, RFC 5737) is on no interface, so mDNS cannot open a socket on it.
    watcher = DiscoveryWatcher(EventBus(), interfaces=["198.51.100.1"])
    watcher.start_blocking()
    try:
        assert watcher.state == "failed"
        assert "add devices by address" in (watcher.error or "")
        assert any(r.levelname == "WARNING" for r in caplog.records)
        assert watcher.devices() == []
    finally:
        watcher.stop_blocking()
