"""Auto-backup and startup use the restore's check on the live file: foreign objects never pass."""

from __future__ import annotations

import sqlite3

from ledgrab.core.backup.auto_backup import PREFIX
from tests.hostile.planted import extra_table, schema_objects, wipe_trigger
from tests.support.db_files import activity_rows
from tests.support.live_server import LiveServer, wait_for

AUTO = "/api/v1/system/backup/auto"
ACK = "/api/v1/system/database/recovery/ack"


def test_auto_backup_refuses_to_keep_a_copy_with_a_planted_trigger(server, tmp_path):
    stick = tmp_path / "stick"
    stick.mkdir()
    with server.client() as client:
        config = {"enabled": True, "destination": str(stick), "interval_s": 86400}
        assert client.put(AUTO, json=config).status_code == 200
        wait_for(lambda: list(stick.glob(f"{PREFIX}*.db")), what="the first scheduled backup")
        first = sorted(stick.iterdir())
        wipe_trigger(server.data_dir / "ledgrab.db")  # planted behind the server's back
        failed = client.post(f"{AUTO}/run")
        assert failed.status_code == 409, failed.text
        assert "wipe_alice" in failed.json()["detail"]
        assert sorted(stick.iterdir()) == first  # the bad copy is not kept
        health = client.get("/health").json()
        assert health["components"]["backup"]["state"] == "degraded"
        assert "wipe_alice" in health["components"]["backup"]["reason"]


def test_startup_rebuilds_a_live_file_with_planted_objects_and_says_so(tmp_path):
    data_dir = tmp_path / "data"
    with LiveServer(data_dir) as live, live.client() as client:
        assert client.post("/api/v1/system/api-keys", json={"label": "kept"}).status_code == 201
    live_file = data_dir / "ledgrab.db"
    wipe_trigger(live_file)
    extra_table(live_file)
    entries_before = len(activity_rows(live_file))

    with LiveServer(data_dir) as live, live.client() as client:
        objects = schema_objects(live_file)
        assert ("trigger", "wipe_alice") not in objects and ("table", "notes") not in objects
        labels = sorted(k["label"] for k in client.get("/api/v1/system/api-keys").json())
        assert labels == ["admin", "kept"]
        (aside,) = data_dir.glob("ledgrab.db.foreign-*")
        assert ("trigger", "wipe_alice") in schema_objects(aside)  # the evidence is kept
        rows = activity_rows(live.app.state.db)
        assert len(rows) > entries_before  # the old entries are all there, and the new ones
        first_new = rows[entries_before]
        assert first_new[1:3] == ("database.rebuilt", "critical")
        assert "wipe_alice" in first_new[4] and aside.name in first_new[4]
        health = client.get("/health").json()
        assert health["status"] == "degraded"
        assert aside.name in health["components"]["database_recovery"]["reason"]
        acked = client.post(ACK)
        assert (
            acked.status_code == 200 and aside.name in acked.json()["acknowledged"]["quarantined"]
        )
        assert client.get("/health").json()["components"]["database_recovery"]["state"] == "ok"
        assert client.post(ACK).status_code == 404
        (entry,) = activity_rows(live.app.state.db, "action = 'database.recovery_acknowledged'")
        assert entry[3] == "admin"


def test_a_restarted_server_keeps_reporting_until_acknowledged(tmp_path):
    data_dir = tmp_path / "data"
    with LiveServer(data_dir):
        pass
    wipe_trigger(data_dir / "ledgrab.db")
    with LiveServer(data_dir):
        pass
    with LiveServer(data_dir) as live, live.client() as client:
        assert (
            client.get("/health").json()["components"]["database_recovery"]["state"] == "degraded"
        )
        assert client.post(ACK).status_code == 200
    with LiveServer(data_dir) as live, live.client() as client:
        assert client.get("/health").json()["components"]["database_recovery"]["state"] == "ok"
    conn = sqlite3.connect(data_dir / "ledgrab.db")
    try:
        assert conn.execute(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"
        ).fetchone() == (0,)
    finally:
        conn.close()
