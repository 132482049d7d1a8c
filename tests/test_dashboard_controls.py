"""The Dashboard's quick controls over the API: a brightness being dragged applies without an
entry, blackout stops every running target in one entry, start-auto starts the auto-start ones,
identify lights a strip white for two seconds and then restores what was there."""

from __future__ import annotations

from tests.support.live_server import LiveServer, wait_for


def _entries(client, action: str) -> list[dict]:
    return [
        e
        for e in client.get("/api/v1/activity", params={"limit": 500}).json()["items"]
        if e["action"] == action
    ]


def _demo(client) -> dict:
    return next(t for t in client.get("/api/v1/targets").json() if t["name"] == "Demo")


def test_brightness_preview_applies_without_storing_or_recording(server):
    with server.client() as client:
        demo = _demo(client)
        before = len(client.get("/api/v1/activity", params={"limit": 500}).json()["items"])
        for value in (0.9, 0.5, 0.2):
            answer = client.post(
                f"/api/v1/targets/{demo['id']}/brightness-preview", json={"brightness": value}
            )
            assert answer.status_code == 200 and answer.json()["applied"] is True
        preview = client.get(f"/api/v1/targets/{demo['id']}/preview").json()
        assert preview["brightness"] == 0.2
        assert (
            client.get(f"/api/v1/targets/{demo['id']}").json()["brightness"] == demo["brightness"]
        )
        after = client.get("/api/v1/activity", params={"limit": 500}).json()["items"]
        assert len(after) == before  # dragging records nothing; the PATCH on release does
        bad = client.post(
            f"/api/v1/targets/{demo['id']}/brightness-preview", json={"brightness": 2}
        )
        assert bad.status_code == 400 and "brightness" in bad.text


def test_blackout_then_start_auto(server):
    with server.client() as client:
        demo = _demo(client)
        assert demo["running"] and demo["auto_start"]
        result = client.post("/api/v1/targets/blackout").json()
        assert result["target_ids"] == [demo["id"]]
        assert result["message"] == 'Blackout: stopped 1 target ("Demo")'
        assert _demo(client)["running"] is False
        runner_state = client.get(f"/api/v1/targets/{demo['id']}/state").json()
        assert runner_state["status"] == "stopped"
        assert len(_entries(client, "targets.blackout")) == 1
        again = client.post("/api/v1/targets/blackout").json()
        assert again["message"] == "Blackout: stopped 0 targets"
        started = client.post("/api/v1/targets/start-auto").json()
        assert started == {"target_ids": [demo["id"]], "message": "Started 1 auto-start target"}
        assert _demo(client)["running"] is True


def test_identify_flashes_white_for_two_seconds_then_restores(server):
    with server.client() as client:
        demo = _demo(client)
        runner = server.app.state.engine.runner(demo["id"])
        answer = client.post(f"/api/v1/devices/{demo['device_id']}/identify")
        assert answer.status_code == 200, answer.text
        assert answer.json()["driven_by"] == "Demo"
        white = b"\xff" * len(runner.driver.last_frame)
        wait_for(lambda: runner.driver.last_frame == white, what="the strip white")
        wait_for(lambda: runner.driver.last_frame != white, what="the demo frames back")
        (entry,) = _entries(client, "device.identified")
        assert entry["message"] == 'Device "Virtual strip" identified: white for 2 s'
        assert client.post("/api/v1/devices/dev_nope/identify").status_code == 404


def test_identify_an_idle_device(tmp_path):
    with LiveServer(tmp_path / "d", demo_on_first_start=False) as live, live.client() as client:
        device = client.post(
            "/api/v1/devices", json={"name": "Shelf", "type": "virtual", "led_count": 4}
        ).json()
        answer = client.post(f"/api/v1/devices/{device['id']}/identify")
        assert answer.status_code == 200 and answer.json()["driven_by"] is None
