"""Device health against a fake WLED JSON API on 127.0.0.1 that the test stops and restarts:
online with latency, one offline event and one warning however long it stays down, back online;
UDP devices are checked by resolving their address."""

from __future__ import annotations

import json
import logging
import os

import pytest
from websockets.sync.client import connect

from tests.support.fake_wled import FakeWled
from tests.support.live_server import LiveServer, wait_for


@pytest.fixture
def fast_health(tmp_path):
    with LiveServer(
        tmp_path / "d",
        health={"enabled": True, "interval_s": 0.1, "max_interval_s": 0.4, "timeout_s": 1.0},
    ) as live:
        yield live


def _state(client, device_id: str) -> dict:
    response = client.get(f"/api/v1/devices/{device_id}/state")
    assert response.status_code == 200, response.text
    return response.json()


def _health_events(ws, device_id: str, until) -> list[dict]:
    """device_health messages for this device, read until `until(messages)` holds."""
    seen: list[dict] = []
    while not until(seen):
        message = json.loads(ws.recv(timeout=20))
        if message["type"] == "device_health" and message["device_id"] == device_id:
            seen.append(message)
    return seen


def test_wled_goes_offline_once_and_comes_back(fast_health, caplog):
    caplog.set_level(logging.INFO, logger="ledgrab.health")
    wled = FakeWled(led_count=30).start()
    try:
        with (
            fast_health.client() as client,
            connect(
                fast_health.ws_url,
                ssl=fast_health.ssl_context,
                additional_headers={"X-API-Key": fast_health.api_key},
            ) as ws,
        ):
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            created = client.post(
                "/api/v1/devices",
                json={
                    "name": "shelf",
                    "type": "wled",
                    "led_count": 30,
                    "address": "127.0.0.1",
                    "http_port": wled.port,
                },
            )
            assert created.status_code == 201, created.text
            device_id = created.json()["id"]

            (online,) = _health_events(ws, device_id, lambda seen: len(seen) == 1)
            assert online["state"] == "online" and online["method"] == "http"
            assert online["latency_ms"] is not None and online["latency_ms"] >= 0
            state = _state(client, device_id)
            assert state["online"] is True and state["last_change"] is not None
            assert wled.requests >= 1

            wled.stop()
            (offline,) = _health_events(ws, device_id, lambda seen: len(seen) == 1)
            assert offline["state"] == "offline" and "127.0.0.1" in offline["error"]
            went_down = _state(client, device_id)
            assert went_down["online"] is False and went_down["latency_ms"] is None
            # Stays down for several more checks: no more events, no more warnings.
            wait_for(
                lambda: _state(client, device_id)["checks"] >= went_down["checks"] + 3,
                what="three more checks while the device is down",
            )
            warnings = [
                r for r in caplog.records if r.levelname == "WARNING" and "shelf" in r.message
            ]
            assert len(warnings) == 1, [r.message for r in warnings]

            wled = FakeWled(led_count=30, port=wled.port).start()
            events = _health_events(ws, device_id, lambda seen: len(seen) >= 1)
            # Every event between going down and coming back is the return itself.
            assert [e["state"] for e in events] == ["online"]
            back = _state(client, device_id)
            assert back["online"] is True and back["last_change"] > went_down["last_change"]
    finally:
        wled.stop()


def test_udp_devices_are_checked_by_resolving_their_address(fast_health):
    with fast_health.client() as client:
        created = client.post(
            "/api/v1/devices",
            json={"name": "bar", "type": "ddp", "led_count": 10, "address": "localhost"},
        )
        assert created.status_code == 201, created.text
        device_id = created.json()["id"]
        state = wait_for(
            lambda: (s := _state(client, device_id))["state"] != "unknown" and s,
            what="the first check",
        )
        assert state["online"] is True and state["method"] == "resolve"
        assert state["driven_by"] is None and state["driver"] is None


def test_state_of_a_missing_device_is_a_404(server):
    with server.client() as client:
        response = client.get("/api/v1/devices/dev_nope/state")
    assert response.status_code == 404
    assert "dev_nope" in response.json()["detail"]


def test_a_serial_device_is_online_while_its_port_opens(fast_health):
    master, slave = os.openpty()  # a pty pair stands in for the USB serial adapter
    path = os.ttyname(slave)
    with fast_health.client() as client:
        try:
            created = client.post(
                "/api/v1/devices",
                json={"name": "desk", "type": "adalight", "led_count": 10, "serial_port": path},
            )
            assert created.status_code == 201, created.text
            device_id = created.json()["id"]
            state = wait_for(
                lambda: (s := _state(client, device_id))["state"] == "online" and s,
                what="the port to be found",
            )
            assert state["method"] == "serial"
        finally:
            os.close(slave)
            os.close(master)
        state = wait_for(
            lambda: (s := _state(client, device_id))["state"] == "offline" and s,
            what="the unplugged port to be noticed",
        )
        assert path in state["error"]
