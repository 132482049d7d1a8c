"""A WLED advertised over mDNS (another process, loopback) shows up on the Devices page live and
is added with one click; the list then says it is already added."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import UI
from tests.support.fake_wled import AdvertiserProcess, FakeWled
from tests.support.live_server import LiveServer


@pytest.fixture
def discovering(tmp_path):
    instance = f"LedGrab ui-{uuid.uuid4().hex[:6]}"
    with LiveServer(
        tmp_path / "d",
        discovery={"enabled": True, "advertise_port": 18082, "instance_name": instance},
    ) as live:
        yield live


def test_discovered_wled_is_added_with_one_click(browser, discovering, request):
    ui = UI(browser, discovering, request.node.name)
    name = f"wled-{uuid.uuid4().hex[:8]}"
    try:
        with FakeWled(led_count=48) as wled:
            page = ui.signed_in("/#/devices")
            page.get_by_role("heading", name="Discovered on the network").wait_for()
            advertiser = AdvertiserProcess(name, wled.port)
            try:
                assert advertiser.wait_line() == "registered"
                item = page.locator(".list-item", has_text=name)
                item.wait_for(timeout=30_000)  # arrives through the device_discovered event
                assert "48 LEDs" in item.inner_text()
                ui.shot(page, "devices-discovered")
                item.get_by_role("button", name="Add").click()
                page.locator(f"#device-table tr[data-name='{name}']").wait_for()
                item.get_by_role("button", name="Added").wait_for()
                with discovering.client() as client:
                    (device,) = [
                        d for d in client.get("/api/v1/devices").json() if d["name"] == name
                    ]
                assert device["type"] == "wled" and device["address"] == "127.0.0.1"
                assert device["led_count"] == 48 and device["http_port"] == wled.port
            finally:
                advertiser.stop()
    finally:
        ui.close()
    assert not ui.unexpected_errors(), ui.unexpected_errors()
