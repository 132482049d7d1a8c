"""Device health against a fake WLED JSON API on 127.0.0.1 that the test stops and restarts:
online with latency, one offline event and one warning however long it stays down, back online;
a DDP/E1.31 receiver is online only when something confirms it (a DDP status answer, the
neighbour table), offline when nothing is there, and otherwise "sending, no confirmation"."""

from __future__ import annotations

import json
import logging
import os
import socket

import pytest
from websockets.sync.client import connect

from tests.support.ddp import DdpStatusAnswerer
from tests.support.fake_wled import FakeWled
from tests.support.live_server import LiveServer, wait_for
from tests.support.neighbour_reads_probe import NEIGHBOUR_SETUP
from tests.support.netns import needs_private_network, run_probe_in_private_network
from tests.support.unreachable_probe import UNREACHABLE_SEGMENT


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
                ssl=fast_health.ws_ssl_context,
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


def _ddp_state(client, port: int) -> dict:
    created = client.post(
        "/api/v1/devices",
        json={"name": f"bar {port}", "type": "ddp", "led_count": 10, "address": "127.0.0.1",
              "port": port},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    device_id = created.json()["id"]
    return wait_for(
        lambda: (s := _state(client, device_id))["state"] != "unknown" and s,
        what="the first check",
    )


def test_a_ddp_receiver_that_answers_status_queries_is_online(fast_health):
    answerer = DdpStatusAnswerer()
    try:
        with fast_health.client() as client:
            state = _ddp_state(client, answerer.port)
        assert state["state"] == "online" and state["method"] == "ddp-status", state
        assert state["latency_ms"] is not None and answerer.queries >= 1
    finally:
        answerer.close()


def test_a_silent_udp_receiver_is_sending_without_confirmation_not_online(fast_health):
    # A socket that takes datagrams and answers nothing: all a plain DDP receiver does.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        with fast_health.client() as client:
            state = _ddp_state(client, silent.getsockname()[1])
        assert state["state"] == "unconfirmed" and state["online"] is None, state
        assert state["error"].startswith("sending to 127.0.0.1:")
        assert state["latency_ms"] is None
    finally:
        silent.close()


def test_a_port_nobody_listens_on_is_offline_with_the_reason(fast_health):
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with fast_health.client() as client:
        state = _ddp_state(client, port)
    assert state["state"] == "offline" and state["method"] == "icmp", state
    assert f"nothing receives DDP on port {port}" in state["error"]


@needs_private_network
def test_a_ddp_device_at_an_address_nobody_has_is_not_online():
    # In a private namespace with a LAN segment (a veth pair) where 10.77.0.254 is nobody.
    result = run_probe_in_private_network(
        "tests.support.unreachable_probe", setup=UNREACHABLE_SEGMENT, timeout=120
    )
    for kind in ("ddp", "e131"):
        state = result[kind]
        assert state["state"] == "offline" and state["online"] is False, state
        assert state["method"] == "neighbour", state
        assert "no answer from 10.77.0.254 on the local network" in state["error"]


@needs_private_network
def test_a_check_reads_the_neighbour_table_only_for_an_address_on_the_link():
    # Each read runs `ip` (a fork and an exec of the server), every check, for every device.
    result = run_probe_in_private_network(
        "tests.support.neighbour_reads_probe", "1.0", setup=NEIGHBOUR_SETUP, timeout=120
    )
    for silent in ("loopback", "own address"):
        assert result[silent]["state"] == "unconfirmed", result
        assert result[silent]["method"] == "none", result
    assert result["loopback"]["ip_runs"] == 0, result
    # The probe made no entry for an address that routes over lo: one read shows it.
    assert result["own address"]["ip_runs"] == 1, result
    # On the link the entry is INCOMPLETE until the kernel gives up on it: read until FAILED.
    nobody = result["nobody on the link"]
    assert nobody["state"] == "offline" and nobody["method"] == "neighbour", result
    assert nobody["ip_runs"] >= 2, result


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
