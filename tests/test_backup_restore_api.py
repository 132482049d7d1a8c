"""GET /system/backup and POST /system/restore on the live server, with real files."""

from __future__ import annotations

import sqlite3

import pytest

from ledgrab.storage.data_migrations import latest_version
from tests.support.db_files import (
    activity_rows,
    corrupt_pages,
    foreign_sqlite,
    live_bytes,
    make_ledgrab_db,
)
from tests.support.live_server import LiveServer, wait_for


def _download(client, tmp_path, name="backup.db"):
    response = client.get("/api/v1/system/backup")
    assert response.status_code == 200, response.text
    path = tmp_path / name
    path.write_bytes(response.content)
    return response, path


def _restore(client, path, name=None):
    params = {"name": name or path.name}
    return client.post("/api/v1/system/restore", params=params, content=path.read_bytes())


def _keys(client) -> list[str]:
    return sorted(k["label"] for k in client.get("/api/v1/system/api-keys").json())


def test_backup_download_is_a_named_consistent_ledgrab_file(server, tmp_path):
    server.app.state.activity_recorder.record("system", "test.pending", message="waiting")
    with server.client() as client:
        response, path = _download(client, tmp_path)
    # entries still waiting for their batch commit are in the backup too
    assert [r[1] for r in activity_rows(path, "action = 'test.pending'")] == ["test.pending"]
    made = activity_rows(server.app.state.db, "action = 'backup.created'")
    assert len(made) == 1 and made[0][3] == "admin" and made[0][2] == "info"
    disposition = response.headers["content-disposition"]
    assert "attachment" in disposition and "ledgrab-0." in disposition
    assert response.headers["content-type"] == "application/vnd.sqlite3"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT label FROM api_keys").fetchall() == [("admin",)]
    conn.close()
    # the snapshot made for the download is deleted once it has been sent
    work = server.data_dir / "backup-work"
    wait_for(lambda: not list(work.iterdir()), what="the download's snapshot to be deleted")


def test_round_trip_restores_exactly_the_backed_up_state(server, tmp_path):
    recorder = server.app.state.activity_recorder
    db = server.app.state.db
    with server.client() as client:
        client.post("/api/v1/system/api-keys", json={"label": "kept"})
        recorder.record("system", "test.before_backup", message="in the backup")
        _response, path = _download(client, tmp_path)
        recorder.record("system", "test.after_backup", message="not in the backup")
        client.post("/api/v1/system/api-keys", json={"label": "added-later"})
        client.delete("/api/v1/system/api-keys/kept")
        assert _keys(client) == ["added-later", "admin"]
        restored = _restore(client, path)
        assert restored.status_code == 200, restored.text
        body = restored.json()
        assert body["restored_from"] == path.name
        assert body["schema_version"] == latest_version()
        # durable before the response: another connection already sees the restore entry
        on_disk = activity_rows(server.data_dir / "ledgrab.db", "action = 'restore.completed'")
        assert len(on_disk) == 1
        # the same Database object serves the restored file; the key cache was reloaded
        assert _keys(client) == ["admin", "kept"]
        backed_up = activity_rows(path)
        assert "test.before_backup" in [r[1] for r in backed_up]
        live = activity_rows(db)
        assert live[: len(backed_up)] == backed_up
        after = {row[1]: row for row in live[len(backed_up) :]}
        # The restore (first, the head of the activity chain it replaced), and the restored
        # file's auto-start target starting again.
        assert sorted(after) == ["restore.completed", "restore.replaced_chain", "target.started"]
        assert live[len(backed_up)][1] == "restore.replaced_chain"
        assert after["target.started"][1:4] == ("target.started", "info", "admin")
        entry = after["restore.completed"]
        assert entry[1:4] == ("restore.completed", "info", "admin")
        assert path.name in entry[4] and "pre-restore" in entry[4]
        again = _restore(client, path)
        assert again.status_code == 200
    aside = sorted(server.data_dir.glob("ledgrab.db.pre-restore-*"))
    assert len(aside) == 1  # keep_pre_restore = 1: only the newest is kept
    conn = sqlite3.connect(aside[0])
    assert sorted(r[0] for r in conn.execute("SELECT label FROM api_keys")) == ["admin", "kept"]
    conn.close()
    assert server.app.state.db.is_open


def test_writes_after_a_restore_go_to_the_restored_file(server, tmp_path):
    with server.client() as client:
        _response, path = _download(client, tmp_path)
        assert _restore(client, path).status_code == 200
        assert client.post("/api/v1/system/api-keys", json={"label": "new"}).status_code == 201
    server.stop()
    conn = sqlite3.connect(server.data_dir / "ledgrab.db")
    assert sorted(r[0] for r in conn.execute("SELECT label FROM api_keys")) == ["admin", "new"]
    conn.close()


def _bad_uploads(tmp_path):
    good = make_ledgrab_db(tmp_path / "good.db")
    data = good.read_bytes()
    (tmp_path / "garbage.db").write_bytes(b"\x89PNG\r\n" + bytes(range(256)) * 40)
    (tmp_path / "truncated.db").write_bytes(data[: len(data) // 2])
    newer = tmp_path / "newer.db"
    newer.write_bytes(data)
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()
    return {
        "not_sqlite": tmp_path / "garbage.db",
        "truncated": tmp_path / "truncated.db",
        "corrupt": corrupt_pages(good, tmp_path / "corrupt.db"),
        "not_ledgrab": foreign_sqlite(tmp_path / "photos.db"),
        "too_new": newer,
    }


def test_each_bad_upload_is_refused_with_its_reason_and_nothing_changes(server, tmp_path):
    uploads = _bad_uploads(tmp_path)
    with server.client() as client:
        client.post("/api/v1/system/api-keys", json={"label": "present"})
        before = live_bytes(server.data_dir)
        messages = set()
        for kind, path in uploads.items():
            response = _restore(client, path)
            assert response.status_code == 400, (kind, response.text)
            body = response.json()
            assert body["extra"]["reason"] == kind
            assert body["detail"].startswith("not restored: ")
            messages.add(body["detail"])
        assert len(messages) == len(uploads)
        empty = client.post("/api/v1/system/restore", content=b"")
        assert empty.status_code == 400 and empty.json()["extra"]["reason"] == "empty"
        assert _keys(client) == ["admin", "present"]
    assert live_bytes(server.data_dir) == before
    assert not list(server.data_dir.glob("*pre-restore*"))
    assert list((server.data_dir / "backup-work").iterdir()) == []


def test_an_upload_over_the_limit_gets_413_and_is_not_kept(tmp_path):
    with LiveServer(tmp_path / "d") as live:
        live.app.state.backup.settings.max_upload_bytes = 1 << 20
        before = live_bytes(live.data_dir)
        blob = b"\0" * ((1 << 20) + 1)
        with live.client() as client:
            announced = client.post("/api/v1/system/restore", content=blob)
            assert announced.status_code == 413
            assert "1048576" in announced.json()["detail"]

            def chunks():  # no content-length: the limit is enforced while streaming
                for _ in range(3):
                    yield b"\0" * (1 << 19)

            streamed = client.post("/api/v1/system/restore", content=chunks())
            assert streamed.status_code == 413
        assert list((live.data_dir / "backup-work").iterdir()) == []
        assert live_bytes(live.data_dir) == before


def test_backup_and_restore_need_a_key(server, tmp_path):
    with server.client(key=None) as client:
        assert client.get("/api/v1/system/backup").status_code == 401
        assert client.post("/api/v1/system/restore", content=b"x").status_code == 401


@pytest.mark.skipif(latest_version() < 2, reason="needs a second migration on main")
def test_an_older_schema_restores_and_is_migrated(server, tmp_path):
    from ledgrab.storage.data_migrations import MIGRATIONS

    old = make_ledgrab_db(tmp_path / "old.db", rows=3, migrations=MIGRATIONS[:1])
    with server.client() as client:
        response = _restore(client, old)
    assert response.status_code == 200, response.text
    assert response.json()["migrated_to"] == [m.version for m in MIGRATIONS[1:]]
    assert server.app.state.db.get_setting_blocking("k2")["n"] == 2


def test_a_form_upload_is_told_to_send_the_raw_file(server, tmp_path):
    before = live_bytes(server.data_dir)
    with server.client() as client:
        response = client.post(
            "/api/v1/system/restore", files={"file": ("b.db", b"SQLite format 3\x00" + b"\0" * 99)}
        )
    assert response.status_code == 415
    assert "--data-binary" in response.json()["detail"]
    assert live_bytes(server.data_dir) == before
