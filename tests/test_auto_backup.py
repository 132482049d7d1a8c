"""Auto-backup on the live server: keep N, the byte bound, persistence, schedule, bad targets."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time

from ledgrab.core.backup.auto_backup import PREFIX
from ledgrab.storage.database import Database
from tests.support.db_files import activity_rows, fill_settings
from tests.support.live_server import LiveServer, wait_for

AUTO = "/api/v1/system/backup/auto"


def _ours(dest):
    return sorted(p.name for p in dest.glob(f"{PREFIX}*.db"))


def _configure(client, **config):
    response = client.put(AUTO, json=config)
    assert response.status_code == 200, response.text
    return response.json()


def test_off_by_default_and_validated(server, tmp_path):
    with server.client() as client:
        status = client.get(AUTO).json()
        assert status["state"] == "off" and status["config"]["enabled"] is False
        assert "USB stick" in status["destination_hint"]
        for config, words in (
            ({"enabled": True}, "destination"),
            ({"enabled": True, "destination": "relative/dir"}, "absolute"),
            ({"enabled": True, "destination": str(tmp_path / "missing")}, "does not exist"),
            ({"enabled": True, "destination": str(tmp_path), "keep": 0}, "keep"),
            ({"enabled": True, "destination": str(tmp_path), "interval_s": 5}, "interval_s"),
        ):
            response = client.put(AUTO, json=config)
            assert response.status_code == 400, config
            assert words in response.text
        assert client.get(AUTO).json()["config"]["enabled"] is False
    assert server.app.state.db.get_setting_blocking("backup.auto") is None


def test_keeps_the_newest_n(server, tmp_path):
    dest = tmp_path / "usb"
    dest.mkdir()
    (dest / "holiday.jpg").write_bytes(b"not ours")
    with server.client() as client:
        # enabling with an empty destination makes the first backup at once
        _configure(client, enabled=True, destination=str(dest), keep=3)
        first = wait_for(lambda: _ours(dest), what="the first scheduled backup")
        made = [client.post(f"{AUTO}/run").json()["name"] for _ in range(4)]
        assert _ours(dest) == made[-3:]
        status = client.get(AUTO).json()
        assert [b["name"] for b in status["backups"]] == made[-3:][::-1]
    assert (dest / "holiday.jpg").read_bytes() == b"not ours"
    db = server.app.state.db
    created = activity_rows(db, "action = 'backup.auto_created'")
    assert len(created) == 5 and all(r[2] == "info" for r in created)
    assert {r[3] for r in created} == {"system", "admin"}  # the schedule, then "run now"
    pruned = " ".join(r[4] for r in activity_rows(db, "action = 'backup.auto_pruned'"))
    assert first[0] in pruned and made[0] in pruned and made[1] not in pruned
    for name in _ours(dest):
        conn = sqlite3.connect(dest / name)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()


def test_respects_the_byte_bound(server, tmp_path):
    dest = tmp_path / "usb"
    dest.mkdir()
    server.app.state.db.write_blocking(fill_settings, 1200)  # about 0.4 MiB per backup
    bound = 1 << 20
    with server.client() as client:
        _configure(client, destination=str(dest), keep=50, max_bytes=bound)
        for _ in range(5):
            assert client.post(f"{AUTO}/run").status_code == 201
        kept = [(dest / n).stat().st_size for n in _ours(dest)]
        assert 1 <= len(kept) < 5
        assert sum(kept) <= bound
        server.app.state.db.write_blocking(fill_settings, 4000, "big")  # now over 1 MiB alone
        too_big = client.post(f"{AUTO}/run")
        assert too_big.status_code == 409
        assert "max_bytes" in too_big.json()["detail"]
        assert sum((dest / n).stat().st_size for n in _ours(dest)) <= bound


def test_a_missing_destination_is_a_warning_state_not_a_crash(server, tmp_path):
    dest = tmp_path / "stick"
    dest.mkdir()
    with server.client() as client:
        _configure(client, enabled=True, destination=str(dest))
        # Finished, not just visible: the run syncs and checks its file after the rename.
        wait_for(lambda: client.get(AUTO).json()["last_success"], what="the first scheduled backup")
        shutil.rmtree(dest)  # the stick was pulled
        failed = client.post(f"{AUTO}/run")
        assert failed.status_code == 409 and "does not exist" in failed.json()["detail"]
        health = client.get("/health").json()
        assert health["status"] == "degraded"
        assert "does not exist" in health["components"]["backup"]["reason"]
        assert client.get(AUTO).json()["state"] == "failing"
        failed_entries = activity_rows(server.app.state.db, "action = 'backup.auto_failed'")
        assert [r[2] for r in failed_entries] == ["warning"]
        dest.mkdir()
        assert client.post(f"{AUTO}/run").status_code == 201
        assert client.get("/health").json()["components"]["backup"]["state"] == "ok"


def test_settings_persist_and_the_schedule_resumes_after_a_restart(tmp_path):
    data_dir, dest = tmp_path / "data", tmp_path / "usb"
    dest.mkdir()
    with LiveServer(data_dir) as live, live.client() as client:
        _configure(client, enabled=False, destination=str(dest), keep=4, interval_s=3600)
    # a backup older than the interval is on the stick: the restarted server is due at once
    old = dest / f"{PREFIX}20200101T000000.000Z.db"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    db = Database(data_dir / "ledgrab.db")
    db.open()
    stored = db.get_setting_blocking("backup.auto")
    db.write_blocking(Database.put_setting, "backup.auto", {**stored, "enabled": True})
    db.close()
    with LiveServer(data_dir) as live, live.client() as client:
        status = client.get(AUTO).json()
        assert status["config"]["keep"] == 4 and status["config"]["enabled"] is True
        wait_for(lambda: len(_ours(dest)) == 2, what="the overdue backup after the restart")
        status = client.get(AUTO).json()
        newest = dest / status["backups"][0]["name"]
        due = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(newest.stat().st_mtime + 3600))
        assert status["next_due"].startswith(due)


def test_a_restore_applies_the_backups_schedule(server, tmp_path):
    dest = tmp_path / "usb"
    dest.mkdir()
    with server.client() as client:
        _configure(client, destination=str(dest), keep=9)
        backup = tmp_path / "b.db"
        backup.write_bytes(client.get("/api/v1/system/backup").content)
        _configure(client, destination=str(dest), keep=2)
        assert client.post("/api/v1/system/restore", content=backup.read_bytes()).status_code == 200
        assert client.get(AUTO).json()["config"]["keep"] == 9
