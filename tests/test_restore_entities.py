"""A restore brings back the backed-up devices, sources and targets; auto_start targets run."""

from __future__ import annotations

from tests.support.live_server import wait_for


def _state(client) -> dict:
    return {
        kind: sorted(
            (
                {k: v for k, v in item.items() if k != "running"}
                for item in client.get(f"/api/v1/{kind}").json()
            ),
            key=lambda item: item["id"],
        )
        for kind in ("devices", "sources", "targets")
    }


def _running(client) -> dict[str, bool]:
    return {t["id"]: t["running"] for t in client.get("/api/v1/targets").json()}


def test_entities_and_running_targets_come_back(server, tmp_path):
    with server.client() as client:
        (demo,) = client.get("/api/v1/targets").json()
        wait_for(lambda: _running(client)[demo["id"]], what="the demo target to run")
        backed_up = _state(client)
        path = tmp_path / "b.db"
        path.write_bytes(client.get("/api/v1/system/backup").content)

        # change everything: stop the demo, rename it, add a strip and a target that runs
        assert client.post(f"/api/v1/targets/{demo['id']}/stop").status_code in (200, 201)
        client.patch(f"/api/v1/targets/{demo['id']}", json={"name": "Renamed"})
        device = client.post(
            "/api/v1/devices", json={"name": "Extra", "type": "virtual", "led_count": 10}
        ).json()
        extra = client.post(
            "/api/v1/targets",
            json={
                "name": "Extra",
                "device_id": device["id"],
                "source_id": demo["source_id"],
                "fps": 10,
            },
        ).json()
        client.post(f"/api/v1/targets/{extra['id']}/start")
        assert _state(client) != backed_up

        response = client.post("/api/v1/system/restore", content=path.read_bytes())
        assert response.status_code == 200, response.text
        assert _state(client) == backed_up
        running = _running(client)
        assert running == {demo["id"]: True}  # auto_start again; the extra target is gone
        assert not server.app.state.engine.is_running(extra["id"])
