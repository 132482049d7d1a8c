"""A restore installs only LedGrab's schema: an upload with anything else is refused, by name."""

from __future__ import annotations

import sqlite3

import pytest

from ledgrab.cli import main
from ledgrab.storage.data_migrations import MIGRATIONS
from tests.hostile.planted import ATTACKS, plant, schema_objects
from tests.support.db_files import activity_rows, fill_settings, live_bytes, make_ledgrab_db
from tests.support.live_server import LiveServer


def _download(client, tmp_path):
    response = client.get("/api/v1/system/backup")
    assert response.status_code == 200, response.text
    path = tmp_path / "backup.db"
    path.write_bytes(response.content)
    return path


def _restore(client, path):
    return client.post(
        "/api/v1/system/restore", params={"name": path.name}, content=path.read_bytes()
    )


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_api_refuses_the_upload_and_names_the_object(server, tmp_path, attack):
    with server.client() as client:
        path = _download(client, tmp_path)
        named = plant(path, attack)
        before = live_bytes(server.data_dir)
        schema_before = schema_objects(server.data_dir / "ledgrab.db")
        response = _restore(client, path)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["extra"]["reason"] == "unexpected_schema"
        assert named in body["detail"]
    assert live_bytes(server.data_dir) == before
    assert schema_objects(server.data_dir / "ledgrab.db") == schema_before
    assert list((server.data_dir / "backup-work").iterdir()) == []


def _planted_restore(server, tmp_path, label: str, attack: str) -> str:
    """Create a key `label`, back up, plant `attack` in the backup, try to restore it; the key."""
    with server.client() as client:
        key = client.post("/api/v1/system/api-keys", json={"label": label}).json()["key"]
        path = _download(client, tmp_path)
        plant(path, attack)
        _restore(client, path)
    return key


def test_a_revoked_key_stays_revoked_after_a_planted_restore(server, tmp_path):
    victim = _planted_restore(server, tmp_path, "victim", "key_resurrection")
    with server.client() as client:
        assert client.delete("/api/v1/system/api-keys/victim").status_code == 204
    with server.client(key=victim) as stolen:
        assert stolen.get("/api/v1/system/api-keys").status_code == 401


def test_a_planted_trigger_cannot_erase_an_actors_history(server, tmp_path):
    alice = _planted_restore(server, tmp_path, "alice", "wipe_trigger")
    with server.client(key=alice) as as_alice:
        created = as_alice.post("/api/v1/system/api-keys", json={"label": "by-alice"})
        assert created.status_code == 201
    assert activity_rows(server.app.state.db, "actor = 'alice'"), "alice's entries were deleted"


@pytest.mark.parametrize("attack", ["wipe_trigger", "activity_view"])
def test_an_old_version_file_with_a_trigger_does_not_pass_the_migrations(server, tmp_path, attack):
    old = make_ledgrab_db(tmp_path / "old.db", rows=3, migrations=MIGRATIONS[:2])
    named = plant(old, attack)
    before = live_bytes(server.data_dir)
    with server.client() as client:
        response = _restore(client, old)
    assert response.status_code == 400, response.text
    assert named in response.json()["detail"]
    assert live_bytes(server.data_dir) == before


# Every attack on a current backup, and a trigger in a file two versions old.
CLI_CASES = [(attack, None) for attack in sorted(ATTACKS)] + [("wipe_trigger", 2)]


@pytest.mark.parametrize(("attack", "version"), CLI_CASES)
def test_the_command_line_refuses_the_file_and_names_the_object(tmp_path, capsys, attack, version):
    data_dir = tmp_path / "data"
    with LiveServer(data_dir):
        pass
    saved = tmp_path / "saved.db"
    if version is None:
        assert main(["backup", "--data-dir", str(data_dir), str(saved)]) == 0
    else:
        make_ledgrab_db(saved, rows=3, migrations=MIGRATIONS[:version])
    named = plant(saved, attack)
    capsys.readouterr()
    before = live_bytes(data_dir)
    assert main(["restore", "--data-dir", str(data_dir), str(saved)]) == 1
    err = capsys.readouterr().err
    assert "not restored" in err and named in err
    assert live_bytes(data_dir) == before
    assert not list(data_dir.glob("*pre-restore*"))


def test_a_clean_file_is_rebuilt_without_its_pragmas_or_free_pages(server, tmp_path):
    marker = b"LEFTOVER-7f3a9c"
    # A file a device made (its activity chain signed by that device), then given odd pragmas.
    source_dir = tmp_path / "source"
    with LiveServer(source_dir):
        pass
    path = tmp_path / "odd.db"
    assert main(["backup", "--data-dir", str(source_dir), str(path)]) == 0
    conn = sqlite3.connect(path, isolation_level=None)
    fill_settings(conn, 50)
    conn.execute("PRAGMA secure_delete = OFF")
    conn.execute("PRAGMA auto_vacuum = NONE")
    conn.execute("PRAGMA page_size = 1024")
    conn.execute("VACUUM")
    conn.execute("INSERT INTO settings VALUES ('gone', ?)", ('"' + marker.decode() * 40 + '"',))
    conn.execute("DELETE FROM settings WHERE key = 'gone'")
    conn.close()
    assert marker in path.read_bytes()  # the deleted row still sits on a free page
    with server.client() as client:
        response = _restore(client, path)
        assert response.status_code == 200, response.text
    server.stop()
    live = server.data_dir / "ledgrab.db"
    assert all(marker not in data for data in live_bytes(server.data_dir).values())
    conn = sqlite3.connect(live)
    try:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        assert conn.execute("SELECT count(*) FROM settings WHERE key LIKE 'k%'").fetchone()[0] == 50
    finally:
        conn.close()
