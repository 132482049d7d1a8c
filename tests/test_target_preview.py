"""GET /api/v1/targets/{id}/preview: a running target's latest rendered frame as RGB hex; empty
while stopped; 404 naming an unknown target; behind the API key like every /api/v1 route."""

from tests.support.live_server import wait_for


def _demo_target(client) -> dict:
    targets = client.get("/api/v1/targets").json()
    assert len(targets) == 1, "the first start creates one demo target"
    return targets[0]


def test_preview_follows_the_running_frame_loop(server):
    with server.client() as client:
        target = _demo_target(client)
        led_count = client.get(f"/api/v1/devices/{target['device_id']}").json()["led_count"]
        url = f"/api/v1/targets/{target['id']}/preview"
        wait_for(lambda: client.get(url).json()["frames_sent"] > 0, what="a first frame")
        first = client.get(url).json()
        assert first["running"] is True
        assert len(first["pixels"]) == 6 * led_count
        bytes.fromhex(first["pixels"])  # valid hex
        # The demo rainbow moves: a later preview shows other pixels.
        wait_for(
            lambda: client.get(url).json()["pixels"] != first["pixels"], what="a moving preview"
        )

        assert client.post(f"/api/v1/targets/{target['id']}/stop").status_code == 200
        stopped = client.get(url).json()
        assert stopped == {
            "target_id": target["id"],
            "running": False,
            "frames_sent": 0,
            "pixels": "",
            "brightness": 1.0,
        }


def test_preview_of_an_unknown_target_is_404_and_needs_a_key(server):
    with server.client() as client:
        missing = client.get("/api/v1/targets/tgt_nope/preview")
        assert missing.status_code == 404
        assert "tgt_nope" in missing.json()["detail"]
        target = _demo_target(client)
    with server.client(key=None) as anonymous:
        assert anonymous.get(f"/api/v1/targets/{target['id']}/preview").status_code == 401
