"""Capture sources in the running app: DDP built by hand and E1.31 from the `sacn` package reach
a virtual strip through a target pixel for pixel; a stopped stream falls back; bad params are a
400; a busy port is a clear error on the target, not a crash."""

from __future__ import annotations

import json
import socket
import time

import pytest
import sacn
import sacn.sending.sender_socket_udp
from websockets.sync.client import connect

from ledgrab.core.effects.capture_source import RELEASE_GRACE_S
from ledgrab.core.processing import target_runner
from tests.support.ddp import ddp_frame
from tests.support.live_server import wait_for

LEDS = 200  # 600 bytes: one DDP packet, two E1.31 universes


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pixels(seed: int) -> bytes:
    return bytes((i * 5 + seed) % 256 for i in range(LEDS * 3))


def _setup(client, params: dict) -> tuple[str, str]:
    device = client.post(
        "/api/v1/devices", json={"name": "strip", "type": "virtual", "led_count": LEDS}
    )
    assert device.status_code == 201, device.text
    source = client.post(
        "/api/v1/sources", json={"name": "grab", "kind": "capture", "params": params}
    )
    assert source.status_code == 201, source.text
    target = client.post(
        "/api/v1/targets",
        json={
            "name": "mirror",
            "device_id": device.json()["id"],
            "source_id": source.json()["id"],
            "gamma": 1.0,  # identity colour table: the strip shows exactly what was sent
        },
    )
    assert target.status_code == 201, target.text
    started = client.post(f"/api/v1/targets/{target.json()['id']}/start")
    assert started.status_code == 200, started.text
    return source.json()["id"], target.json()["id"]


def _strip(server, target_id: str) -> bytes:
    runner = server.app.state.engine.runner(target_id)
    return runner.driver.last_frame if runner is not None else b""


def test_ddp_stream_reaches_the_strip_then_falls_back_to_an_effect(server):
    port = _free_udp_port()
    params = {
        "protocol": "ddp",
        "port": port,
        "timeout_s": 0.5,
        "fallback": "effect",
        "fallback_effect": {"kind": "static", "params": {"color": "#102030"}},
    }
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with (
        server.client() as client,
        connect(
            server.ws_url,
            ssl=server.ws_ssl_context,
            additional_headers={"X-API-Key": server.api_key},
        ) as ws,
    ):
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        source_id, target_id = _setup(client, params)
        wait_for(lambda: _strip(server, target_id) == bytes.fromhex("102030") * LEDS, what="idle")
        try:
            for packet in ddp_frame(_pixels(9)):
                sender.sendto(packet, ("127.0.0.1", port))
            wait_for(lambda: _strip(server, target_id) == _pixels(9), what="the frame on the strip")
            state = client.get(f"/api/v1/sources/{source_id}/capture").json()
            assert state["open"] and state["port"] == port
            assert state["sender"] == f"127.0.0.1:{sender.getsockname()[1]}"
            assert state["stats"]["packets"] == 1 and state["started_at"].endswith("+00:00")

            events = []
            while len(events) < 2:
                message = json.loads(ws.recv(timeout=20))
                if message["type"] in ("capture_started", "capture_stopped"):
                    events.append(message)
            assert [e["type"] for e in events] == ["capture_started", "capture_stopped"]
            assert events[0]["source_id"] == source_id and events[0]["source_name"] == "grab"
            assert events[1]["reason"] == "timeout"
            wait_for(
                lambda: _strip(server, target_id) == bytes.fromhex("102030") * LEDS,
                what="the fallback effect after the stream stopped",
            )
        finally:
            sender.close()


def _send(sender: socket.socket, port: int, seed: int) -> None:
    for packet in ddp_frame(_pixels(seed)):
        sender.sendto(packet, ("127.0.0.1", port))


def _stream_then_edit_the_source(server, client, sender, port) -> tuple[str, str, str]:
    """A DDP capture target showing frame 1, then its source edited: (source, target, the
    source's capture-state path)."""
    source_id, target_id = _setup(client, {"protocol": "ddp", "port": port})
    capture = f"/api/v1/sources/{source_id}/capture"
    wait_for(lambda: client.get(capture).json()["open"], what="the port to open")
    _send(sender, port, 1)
    wait_for(lambda: _strip(server, target_id) == _pixels(1), what="the first frame")
    edited = client.patch(
        f"/api/v1/sources/{source_id}", json={"kind": "capture", "params": {"fallback": "hold"}}
    )
    assert edited.status_code == 200, edited.text
    return source_id, target_id, capture


def test_editing_the_source_or_target_keeps_the_stream(server):
    port = _free_udp_port()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with server.client() as client:
            _, target_id, capture = _stream_then_edit_the_source(server, client, sender, port)
            edited = client.patch(f"/api/v1/targets/{target_id}", json={"fps": 30})
            assert edited.status_code == 200, edited.text
            _send(sender, port, 2)
            wait_for(lambda: _strip(server, target_id) == _pixels(2), what="the next frame")
            state = client.get(capture).json()
            assert state["live"] and state["stats"]["streams"] == 1
            assert state["stats"]["packets"] == 2
    finally:
        sender.close()


def test_an_edit_while_a_stream_is_held_keeps_the_port_open(server, monkeypatch):
    """The edited source must open the shared input on the next tick, not when the stream's
    hold ends: with a hold longer than the input's release grace, waiting lost the port."""
    monkeypatch.setattr(target_runner, "FED_HOLD_S", RELEASE_GRACE_S * 4)
    port = _free_udp_port()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with server.client() as client:
            _, target_id, capture = _stream_then_edit_the_source(server, client, sender, port)
            time.sleep(RELEASE_GRACE_S * 2)  # let the old source's release fall due
            state = client.get(capture).json()
            assert state["open"] and state["stats"]["packets"] == 1, state
            _send(sender, port, 2)
            wait_for(lambda: _strip(server, target_id) == _pixels(2), what="the next frame")
    finally:
        sender.close()


def test_e131_from_sacn_reaches_the_strip(server, monkeypatch):
    port = _free_udp_port()
    with server.client() as client:
        source_id, target_id = _setup(
            client, {"protocol": "e131", "port": port, "universe": 3, "fallback": "hold"}
        )
        monkeypatch.setattr(sacn.sending.sender_socket_udp, "DEFAULT_PORT", port)
        sender = sacn.sACNsender(
            bind_address="127.0.0.1", bind_port=0, source_name="screen", universeDiscovery=False
        )
        pixels = _pixels(4)
        for k, universe in enumerate((3, 4)):
            sender.activate_output(universe)
            sender[universe].destination = "127.0.0.1"
            sender[universe].dmx_data = tuple(pixels[k * 510 : (k + 1) * 510])
        sender.start()
        try:
            wait_for(lambda: _strip(server, target_id) == pixels, what="both universes")
        finally:
            sender.stop()
        state = client.get(f"/api/v1/sources/{source_id}/capture").json()
        assert state["live"] and state["sender"] == "screen (127.0.0.1)"
        assert state["listener"]["malformed"] == 0


def test_a_busy_port_is_the_targets_error_not_a_crash(server):
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        with server.client() as client:
            _, target_id = _setup(client, {"protocol": "ddp", "port": port})

            def error() -> str | None:
                return client.get(f"/api/v1/targets/{target_id}/state").json()["last_error"]

            message = wait_for(error, what="the target's error")
            assert f"UDP 127.0.0.1:{port}" in message and "in use" in message
            assert client.get("/health").status_code == 200
    finally:
        holder.close()


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"protocol": "artnet"}, "protocol"),
        ({"universe_size": 100}, "universe_size"),
        ({"universe": 0}, "universe"),
        ({"fallback": "effect", "fallback_effect": {"kind": "capture"}}, "fallback_effect.kind"),
        ({"fallback_effect": {"kind": "static", "params": {"color": "red"}}}, "color"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_bad_capture_params_are_a_400_and_store_nothing(server, params, named):
    with server.client() as client:
        before = client.get("/api/v1/sources").json()
        response = client.post(
            "/api/v1/sources", json={"name": "bad", "kind": "capture", "params": params}
        )
        assert response.status_code == 400, response.text
        assert named in response.json()["detail"]
        assert client.get("/api/v1/sources").json() == before


def test_capture_state_of_an_effect_source_is_a_409(server):
    with server.client() as client:
        rainbow = client.post("/api/v1/sources", json={"name": "r", "kind": "rainbow"}).json()
        response = client.get(f"/api/v1/sources/{rainbow['id']}/capture")
        missing = client.get("/api/v1/sources/src_nope/capture")
    assert response.status_code == 409 and "not a capture" in response.json()["detail"]
    assert missing.status_code == 404
