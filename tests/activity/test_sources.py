"""Each route and each event source produces exactly the expected entry."""

from __future__ import annotations

import threading

import pytest

from tests.support.live_server import LiveServer, wait_for

FIELDS = ("category", "action", "severity", "actor", "entity_type", "entity_name")


def _entries(server, **params) -> list[dict]:
    """The listed entries, each metadata without the recorder's clock stamp (which
    test_clock_honest pins), so the sources' own metadata is compared exactly."""
    server.app.state.activity_recorder.flush_blocking()
    with server.client() as client:
        items = client.get("/api/v1/activity", params={"limit": 500, **params}).json()["items"]
    for item in items:
        assert item["metadata"].pop("clock")[1] == server.app.state.system_clock.boot_tag
    return items


def _newest(server, action: str, **params) -> dict:
    matches = [e for e in _entries(server, **params) if e["action"] == action]
    assert len(matches) == 1, [e["action"] for e in _entries(server)]
    return matches[0]


def _shape(entry: dict) -> tuple:
    return tuple(entry[f] for f in FIELDS)


def test_first_start_is_one_setup_entry(server):
    actions = [e["action"] for e in _entries(server)]
    assert actions.count("system.setup") == 1
    assert not any(a.endswith(".created") for a in actions)
    setup = _newest(server, "system.setup")
    assert setup["message"].startswith("First start: created device")


def test_auto_start_is_recorded_and_a_failed_one_is_an_error(tmp_path):
    with LiveServer(tmp_path / "data") as server:
        started = _newest(server, "target.started")
        assert _shape(started) == ("system", "target.started", "info", "system", "target", "Demo")
        with server.client() as client:
            demo = client.get(f"/api/v1/targets/{started['entity_id']}").json()
            twin = {"name": "Twin", "device_id": demo["device_id"], "auto_start": True}
            response = client.post("/api/v1/targets", json={**twin, "source_id": demo["source_id"]})
            assert response.status_code == 201, response.text
    with LiveServer(tmp_path / "data") as server:  # two auto-start targets, one device
        failed = _newest(server, "target.start_failed")
        assert failed["severity"] == "error" and failed["actor"] == "system"
        assert failed["entity_type"] == "target" and failed["message"].startswith("Target ")
        # named by names, not ids
        assert 'is already driven by running target "Demo"' in failed["message"], failed
        assert "tgt_" not in failed["message"]
        assert failed["metadata"] == {"auto_start": True}


def test_entity_routes_record_through_the_hook(server):
    with server.client() as client:
        device = client.post(
            "/api/v1/devices", json={"name": "Desk strip", "type": "virtual", "led_count": 8}
        ).json()
        client.patch(f"/api/v1/devices/{device['id']}", json={"led_count": 9, "name": "Desk"})
        source = client.post(
            "/api/v1/sources", json={"name": "Glow", "kind": "rainbow", "params": {}}
        ).json()
        target = client.post(
            "/api/v1/targets",
            json={"name": "T1", "device_id": device["id"], "source_id": source["id"]},
        ).json()
        assert client.post(f"/api/v1/targets/{target['id']}/start").status_code < 300
        assert client.post(f"/api/v1/targets/{target['id']}/stop").status_code < 300
        assert client.delete(f"/api/v1/targets/{target['id']}").status_code == 204
        assert client.delete(f"/api/v1/devices/{device['id']}").status_code == 204
    expected = {
        "device.created": ("entity", "device.created", "info", "admin", "device", "Desk strip"),
        "device.updated": ("entity", "device.updated", "info", "admin", "device", "Desk"),
        "source.created": ("entity", "source.created", "info", "admin", "source", "Glow"),
        "target.created": ("entity", "target.created", "info", "admin", "target", "T1"),
        "target.started": ("system", "target.started", "info", "admin", "target", "T1"),
        "target.stopped": ("system", "target.stopped", "info", "admin", "target", "T1"),
        "target.deleted": ("entity", "target.deleted", "info", "admin", "target", "T1"),
        "device.deleted": ("entity", "device.deleted", "info", "admin", "device", "Desk"),
    }
    for action, shape in expected.items():
        entry = _newest(server, action, actor="admin")  # not the demo target's auto-start
        assert _shape(entry) == shape, action
    updated = _newest(server, "device.updated")
    assert updated["metadata"] == {"fields": ["led_count", "name"]}
    assert updated["message"] == 'Device "Desk" updated (led_count, name)'


def test_api_keys_created_and_revoked_are_auth_entries(server):
    with server.client() as client:
        created = client.post("/api/v1/system/api-keys", json={"label": "tablet"})
        assert created.status_code == 201
        assert client.delete("/api/v1/system/api-keys/tablet").status_code == 204
    key = created.json()["key"]
    made, revoked = _newest(server, "auth.key_created"), _newest(server, "auth.key_revoked")
    assert _shape(made) == ("auth", "auth.key_created", "info", "admin", "api_key", "tablet")
    assert _shape(revoked) == ("auth", "auth.key_revoked", "warning", "admin", "api_key", "tablet")
    assert key not in str(_entries(server))


def test_a_bad_key_is_an_auth_entry_without_the_key(server):
    secret = "lg_definitely-not-a-valid-key-0123456789"
    with server.client(key=secret) as client:
        assert client.get("/api/v1/activity").status_code == 401
    entry = _newest(server, "auth.failed")
    assert (entry["category"], entry["severity"]) == ("auth", "warning")
    assert entry["metadata"]["address"] == "127.0.0.1"
    assert entry["metadata"]["key_starts_with"] == "lg_d…"
    assert secret[:8] not in str(entry)
    assert entry["message"] == "Failed API-key attempt from 127.0.0.1"


def test_authentication_disabled_is_a_warning_at_startup(tmp_path):
    with LiveServer(tmp_path / "d", environ={"LEDGRAB_AUTH_ENABLED": "false"}) as server:
        entry = _newest(server, "auth.disabled")
    assert (entry["category"], entry["severity"], entry["actor"]) == ("auth", "warning", "system")


BUS_CASES = [
    (
        "device_discovered",
        {"device": {"name": "Porch", "host": "192.168.1.9", "port": 80, "service": "p._wled"}},
        ("device", "device.discovered", "info", "system", "discovered_device", "Porch"),
        '"Porch" discovered at 192.168.1.9:80',
    ),
    (
        "device_lost",
        {"device": {"name": "Porch", "host": "192.168.1.9", "port": 80, "service": "p._wled"}},
        ("device", "device.lost", "info", "system", "discovered_device", "Porch"),
        '"Porch" left the network (192.168.1.9:80)',
    ),
    (
        "capture_started",
        {
            "source_id": "s1",
            "source_name": "TV",
            "protocol": "ddp",
            "priority": 100,
            "sender": "192.168.1.5",
        },
        ("system", "capture.started", "info", "system", "source", "TV"),
        'DDP capture into "TV" started from 192.168.1.5',
    ),
    (
        "capture_stopped",
        {
            "source_id": "s1",
            "source_name": "TV",
            "protocol": "e131",
            "priority": 100,
            "sender": "192.168.1.5",
            "reason": "timeout",
        },
        ("system", "capture.stopped", "info", "system", "source", "TV"),
        'E131 capture into "TV" stopped (timeout)',
    ),
]


@pytest.mark.parametrize(("event", "payload", "shape", "message"), BUS_CASES)
def test_bus_events_from_a_foreign_thread_become_entries(server, event, payload, shape, message):
    # Published from a thread of its own, as zeroconf's browser and the capture sockets do.
    thread = threading.Thread(target=server.app.state.bus.publish, args=(event, payload))
    thread.start()
    thread.join()
    wait_for(lambda: any(e["action"] == shape[1] for e in _entries(server)), what=event)
    entry = _newest(server, shape[1])
    assert _shape(entry) == shape
    assert entry["message"] == message


def test_device_health_transitions_are_connected_and_disconnected(server):
    bus = server.app.state.bus
    states = ["error", "open", "open", "error", "error", "open"]  # first failure is not a loss
    for state in states:
        bus.publish("device_state", {"device_id": "devX", "state": state, "last_error": "EIO"})
    wait_for(lambda: len([e for e in _entries(server, entity_id="devX")]) == 3, what="transitions")
    got = [(e["action"], e["severity"]) for e in reversed(_entries(server, entity_id="devX"))]
    assert got == [
        ("device.connected", "info"),
        ("device.disconnected", "warning"),
        ("device.connected", "info"),
    ]


@pytest.mark.parametrize(
    "attempts", [pytest.param(800), pytest.param(10_000, marks=pytest.mark.slow)]
)
def test_a_brute_force_costs_one_entry_per_address_per_window(tmp_path, attempts):
    data = tmp_path / "d"
    # Refusals answered at once, so that all of them fall in one 60 s window of the log (past
    # 20 they would be held a second each: tests/hostile/test_refused_keys_held.py).
    with LiveServer(data, auth={"over_budget_delay_s": 0}) as server:
        key = "lg_brute-force-attempt-000000000000"

        def hammer(n: int) -> None:
            with server.client(key=key) as client:
                for _ in range(n):
                    assert client.get("/api/v1/activity").status_code == 401

        threads = [threading.Thread(target=hammer, args=(attempts // 8,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        during = [e for e in _entries(server) if e["action"] == "auth.failed"]
        # The 60 s window is still open: one entry so far, however many attempts.
        assert len(during) == 1
    import sqlite3

    conn = sqlite3.connect(data / "ledgrab.db")
    rows = conn.execute(
        "SELECT message, metadata FROM activity_log WHERE action = 'auth.failed' ORDER BY seq"
    ).fetchall()
    conn.close()
    # Shutdown closed the window: its count is the one further entry.
    assert [m for m, _ in rows] == [
        "Failed API-key attempt from 127.0.0.1",
        f"{attempts - 1} more failed API-key attempts from 127.0.0.1 in 60 s",
    ]


def test_settings_changes_go_through_the_hook_as_entity_entries(server, tmp_path):
    with server.client() as client:
        assert client.put("/api/v1/activity/settings", json={"enabled": False}).status_code == 200
        auto = {"enabled": True, "destination": str(tmp_path), "keep": 3}
        assert client.put("/api/v1/system/backup/auto", json=auto).status_code == 200
        bad = {"enabled": True, "destination": "relative/dir"}
        assert client.put("/api/v1/system/backup/auto", json=bad).status_code == 400
        assert client.put("/api/v1/activity/settings", json={"enabled": True}).status_code == 200
    entries = [e for e in _entries(server) if e["action"] == "settings.updated"]
    assert [(e["entity_id"], e["message"], e["metadata"]) for e in entries] == [
        ("activity_log", "Activity log settings changed: enabled", {"fields": ["enabled"]}),
        # Recorded while the log was off: settings changes always are. The refused one is not.
        (
            "auto_backup",
            "Auto-backup settings changed: destination, enabled, keep",
            {"fields": ["destination", "enabled", "keep"]},
        ),
        ("activity_log", "Activity log settings changed: enabled", {"fields": ["enabled"]}),
    ]
    assert {_shape(e) for e in entries} == {
        ("entity", "settings.updated", "info", "admin", "settings", "Activity log"),
        ("entity", "settings.updated", "info", "admin", "settings", "Auto-backup"),
    }
