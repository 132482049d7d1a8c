"""The engine in the running server: the first-start demo, start/stop/state, events on the feed,
the central entity hook, live reconfiguration."""

from __future__ import annotations

import json

import pytest
from websockets.sync.client import connect

from ledgrab.core.entity_events import add_entity_listener
from tests.support.live_server import LiveServer, wait_for


@pytest.fixture
def bare(tmp_path):
    with LiveServer(tmp_path / "data", demo_on_first_start=False) as live:
        yield live


def _virtual_target(c, leds=30, **target):
    device = c.post(
        "/api/v1/devices", json={"type": "virtual", "name": "v", "led_count": leds}
    ).json()
    source = c.post("/api/v1/sources", json={"name": "s", "kind": "rainbow"}).json()
    body = {"name": "t", "device_id": device["id"], "source_id": source["id"], **target}
    return c.post("/api/v1/targets", json=body).json()


def test_new_database_starts_a_demo_that_moves_frames(tmp_path):
    data = tmp_path / "data"
    with LiveServer(data) as live, live.client() as c:
        (target,) = c.get("/api/v1/targets").json()
        assert target["running"] and target["auto_start"]
        (device,) = c.get("/api/v1/devices").json()
        assert device["type"] == "virtual"
        driver = live.app.state.engine.runner(target["id"]).driver
        first = wait_for(lambda: driver.last_frame, what="a first frame")
        assert len(first) == device["led_count"] * 3
        wait_for(lambda: driver.last_frame != first, what="the rainbow to move")
    # An existing database gets no second demo; the demo target resumes by itself.
    with LiveServer(data) as live, live.client() as c:
        assert len(c.get("/api/v1/targets").json()) == 1
        state = wait_for(
            lambda: (
                (s := c.get(f"/api/v1/targets/{target['id']}/state").json())["frames_sent"] and s
            ),
            what="frames after the restart",
        )
        assert state["running"] and state["device"]["state"] == "open"


def test_demo_can_be_switched_off(tmp_path):
    with LiveServer(tmp_path / "d", demo_on_first_start=False) as live, live.client() as c:
        assert c.get("/api/v1/targets").json() == []


def test_start_state_stop(bare):
    with bare.client() as c:
        target = _virtual_target(c, fps=50, on_stop="black")
        tid = target["id"]
        assert c.get(f"/api/v1/targets/{tid}/state").json()["running"] is False
        started = c.post(f"/api/v1/targets/{tid}/start")
        assert started.status_code == 200 and started.json()["running"] is True
        state = wait_for(
            lambda: (s := c.get(f"/api/v1/targets/{tid}/state").json())["frames_sent"] >= 5 and s,
            what="five frames",
        )
        assert state["errors"] == 0 and state["last_error"] is None
        assert state["fps"] == 50 and state["fps_limit_reason"] is None
        driver = bare.app.state.engine.runner(tid).driver
        stopped = c.post(f"/api/v1/targets/{tid}/stop").json()
        assert stopped["running"] is False
        assert stopped["frames_sent"] >= 5  # the counters stay readable after a stop
        assert driver.last_frame == bytes(30 * 3)  # on_stop=black
        assert c.get("/api/v1/targets").json()[0]["running"] is False
        assert c.post("/api/v1/targets/tgt_nope/start").status_code == 404


def test_a_device_takes_one_running_target(bare):
    with bare.client() as c:
        first = _virtual_target(c)
        second = c.post(
            "/api/v1/targets",
            json={"name": "t2", "device_id": first["device_id"], "source_id": first["source_id"]},
        ).json()
        assert c.post(f"/api/v1/targets/{first['id']}/start").status_code == 200
        refused = c.post(f"/api/v1/targets/{second['id']}/start")
        assert refused.status_code == 409
        # the target in the way is named by its name, not its id
        assert f'running target "{first["name"]}"' in refused.json()["detail"]
        assert first["id"] not in refused.json()["detail"]
        assert c.get(f"/api/v1/targets/{second['id']}/state").json()["running"] is False


def test_patch_applies_to_a_running_target(bare):
    with bare.client() as c:
        target = _virtual_target(c, leds=4)
        tid = target["id"]
        src = target["source_id"]
        c.patch(f"/api/v1/sources/{src}", json={"kind": "static", "params": {"color": "#ff8000"}})
        c.patch(f"/api/v1/targets/{tid}", json={"gamma": 1.0, "brightness": 1.0})
        c.post(f"/api/v1/targets/{tid}/start")
        driver = bare.app.state.engine.runner(tid).driver
        wait_for(lambda: driver.last_frame == bytes([255, 128, 0]) * 4, what="orange")
        c.patch(f"/api/v1/targets/{tid}", json={"color_order": "grb", "brightness": 0.5})
        wait_for(lambda: driver.last_frame == bytes([64, 128, 0]) * 4, what="dimmed, reordered")
        c.patch(f"/api/v1/devices/{target['device_id']}", json={"led_count": 2})
        wait_for(
            lambda: bare.app.state.engine.runner(tid).driver.last_frame == bytes([64, 128, 0]) * 2,
            what="the restarted target on the shorter strip",
        )


def test_every_entity_change_goes_through_the_hook_and_onto_the_feed(bare):
    seen = []
    detach = add_entity_listener(bare.app.state.bus, seen.append)
    wanted = ["entity_changed", "target_started", "target_stopped"]
    with connect(bare.ws_url, ssl=bare.ws_ssl_context) as ws, bare.client() as c:
        # Only the types under test: a busy machine must not push them out of the bounded
        # backlog behind frame-state and activity events.
        ws.send(json.dumps({"type": "auth", "key": bare.api_key, "types": wanted}))
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        target = _virtual_target(c)
        c.patch(f"/api/v1/targets/{target['id']}", json={"fps": 30, "name": "renamed"})
        c.post(f"/api/v1/targets/{target['id']}/start")
        c.post(f"/api/v1/targets/{target['id']}/stop")
        c.delete(f"/api/v1/targets/{target['id']}")
        feed = []
        while len([m for m in feed if m["type"] == "entity_changed"]) < 7:
            feed.append(json.loads(ws.recv(timeout=10)))
    detach()
    actions = [(e.entity_type, e.action) for e in seen]
    assert actions == [
        ("device", "created"),
        ("source", "created"),
        ("target", "created"),
        ("target", "updated"),
        ("target", "started"),
        ("target", "stopped"),
        ("target", "deleted"),
    ]
    update = seen[3]
    assert update.changed_fields == ("fps", "name")
    assert update.entity_name == "renamed"
    changed = [m for m in feed if m["type"] == "entity_changed"]
    assert changed[3]["changed_fields"] == ["fps", "name"]
    # Names only, never values: the message has no room for them.
    assert set(changed[3]) == {
        "type",
        "entity_type",
        "action",
        "entity_id",
        "entity_name",
        "changed_fields",
    }
    types = {m["type"] for m in feed}
    assert {"target_started", "target_stopped"} <= types


def test_a_failing_listener_does_not_fail_the_request(bare):
    def broken(event):
        raise RuntimeError("listener bug")

    detach = add_entity_listener(bare.app.state.bus, broken)
    try:
        with bare.client() as c:
            response = c.post(
                "/api/v1/devices", json={"type": "virtual", "name": "v", "led_count": 1}
            )
            assert response.status_code == 201
            assert len(c.get("/api/v1/devices").json()) == 1
    finally:
        detach()
