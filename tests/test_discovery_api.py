"""The running app finds a WLED advertised by another process (events on the websocket, the
/devices/discovered list, a bounded rescan), advertises itself, and refuses bad scans clearly."""

from __future__ import annotations

import json
import uuid

import pytest
from websockets.sync.client import connect
from zeroconf import Zeroconf

from ledgrab.config import load_settings
from ledgrab.core.devices.discovery_watcher import LEDGRAB_TYPE
from tests.support.fake_wled import AdvertiserProcess, FakeWled
from tests.support.live_server import LiveServer, wait_for


def _receive(ws, wanted: str, name: str) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=20))
        if message["type"] == wanted and message["device"]["name"] == name:
            return message


@pytest.fixture
def discovering(tmp_path):
    instance = f"LedGrab api-{uuid.uuid4().hex[:6]}"
    with LiveServer(
        tmp_path / "d",
        discovery={"enabled": True, "advertise_port": 18081, "instance_name": instance},
    ) as live:
        yield live


def _names(client) -> list[str]:
    return [d["name"] for d in client.get("/api/v1/devices/discovered").json()["devices"]]


def test_found_listed_rescanned_and_lost(discovering):
    name = f"wled-{uuid.uuid4().hex[:8]}"
    with (
        FakeWled(led_count=64) as wled,
        discovering.client() as client,
        connect(
            discovering.ws_url,
            ssl=discovering.ws_ssl_context,
            additional_headers={"X-API-Key": discovering.api_key},
        ) as ws,
    ):
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        advertiser = AdvertiserProcess(name, wled.port)
        try:
            assert advertiser.wait_line() == "registered"
            event = _receive(ws, "device_discovered", name)
            assert event["device"]["led_count"] == 64

            body = client.get("/api/v1/devices/discovered").json()
            assert body["state"] == "running" and body["error"] is None
            (listed,) = [d for d in body["devices"] if d["name"] == name]
            assert listed["host"] == "127.0.0.1" and listed["port"] == wled.port
            assert listed["hostname"] == f"{name}.local"
            assert listed["mac"] == "aabbccddeeff" and listed["led_count"] == 64
            assert listed["device_id"] is None

            # Adding it as a device: the list says which device it already is.
            created = client.post(
                "/api/v1/devices",
                json={
                    "name": "found",
                    "type": "wled",
                    "led_count": 64,
                    "address": "127.0.0.1",
                    "http_port": wled.port,
                },
            )
            assert created.status_code == 201, created.text
            body = client.get("/api/v1/devices/discovered").json()
            (listed,) = [d for d in body["devices"] if d["name"] == name]
            assert listed["device_id"] == created.json()["id"]

            scanned = client.post("/api/v1/devices/discover", params={"timeout_s": 0.5})
            assert scanned.status_code == 200, scanned.text
            assert name in [d["name"] for d in scanned.json()["devices"]]

            advertiser.withdraw()
            _receive(ws, "device_lost", name)
            wait_for(lambda: name not in _names(client), what="the device to leave the list")
        finally:
            advertiser.stop()


def test_the_app_advertises_itself(discovering):
    instance = discovering.settings.discovery.instance_name
    browser = Zeroconf(interfaces=["127.0.0.1"])
    try:
        info = browser.get_service_info(LEDGRAB_TYPE, f"{instance}.{LEDGRAB_TYPE}", 10_000)
    finally:
        browser.close()
    assert info is not None
    assert info.port == 18081
    assert info.properties[b"api"] == b"/api/v1"


@pytest.mark.parametrize("timeout_s", ["0", "31", "soon"])
def test_out_of_range_scan_timeout_is_a_400(server, timeout_s):
    with server.client() as client:
        response = client.post("/api/v1/devices/discover", params={"timeout_s": timeout_s})
    assert response.status_code == 400
    assert "timeout_s" in response.text


def test_disabled_discovery_says_so(server):
    with server.client() as client:
        listed = client.get("/api/v1/devices/discovered")
        scan = client.post("/api/v1/devices/discover")
    assert listed.status_code == 200
    assert listed.json() == {"state": "disabled", "error": None, "devices": []}
    assert scan.status_code == 409
    assert "enabled = false" in scan.json()["detail"]


def test_discovery_needs_a_key(server):
    with server.client(key=None) as client:
        assert client.get("/api/v1/devices/discovered").status_code == 401
        assert client.post("/api/v1/devices/discover").status_code == 401


def test_discovery_can_be_turned_off_from_the_environment():
    # How `ledgrab serve` children in tests (and a systemd drop-in) keep mDNS off the LAN.
    assert load_settings(environ={"LEDGRAB_DISCOVERY_ENABLED": "false"}).discovery.enabled is False
    assert load_settings(environ={}).discovery.enabled is True
    env = {"LEDGRAB_DISCOVERY_INTERFACES": " 127.0.0.1, 127.0.0.2 "}
    assert load_settings(environ=env).discovery.interfaces == ["127.0.0.1", "127.0.0.2"]


def test_unusable_mdns_is_reported_and_a_scan_is_a_503(tmp_path):
    # 198.51.100.1 (TEST-NET-2) is on no interface: mDNS cannot start, the server still does.
    with (
        LiveServer(
            tmp_path / "d", discovery={"enabled": True, "interfaces": ["198.51.100.1"]}
        ) as live,
        live.client() as client,
    ):
        body = wait_for(
            lambda: (
                (b := client.get("/api/v1/devices/discovered").json())["state"] == "failed" and b
            ),
            what="discovery to give up",
        )
        assert "198.51.100.1" in body["error"] and body["devices"] == []
        scan = client.post("/api/v1/devices/discover", params={"timeout_s": 0.2})
        assert scan.status_code == 503
        assert "add devices by address" in scan.json()["detail"]
        assert client.get("/health").json()["status"] == "ok"
