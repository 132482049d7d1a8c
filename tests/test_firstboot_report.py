"""A first-boot settings file with bad lines shows on /health and in the activity log."""

from pathlib import Path

from ledgrab import firstboot
from tests.support.live_server import LiveServer


def test_problems_from_the_image_first_boot_are_shown(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    problem = firstboot.Problem(4, "colour", "unknown setting")
    firstboot.write_report(data, Path("/boot/firmware/ledgrab.txt"), ["hostname"], [problem])
    with LiveServer(data) as live, live.client() as client:
        health = client.get("/health").json()
        entries = client.get("/api/v1/activity", params={"category": "system"}).json()["items"]
    component = health["components"]["firstboot"]
    assert health["status"] == "degraded"
    assert component["state"] == "degraded"
    assert "line 4" in component["reason"] and "colour" in component["reason"]
    assert component["details"]["applied"] == ["hostname"]
    (entry,) = [e for e in entries if e["action"] == "firstboot.problems"]
    assert entry["severity"] == "warning"
    assert "colour" in entry["message"]


def test_a_clean_report_is_ok_and_no_report_adds_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with LiveServer(data) as live, live.client() as client:
        assert "firstboot" not in client.get("/health").json()["components"]
    firstboot.write_report(data, Path("ledgrab.txt"), ["hostname", "ssh"], [])
    with LiveServer(data) as live, live.client() as client:
        health = client.get("/health").json()
    assert health["components"]["firstboot"]["state"] == "ok"
