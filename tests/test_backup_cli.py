"""`ledgrab backup` works beside a running server; `ledgrab restore` refuses while one runs."""

from __future__ import annotations

import sqlite3

from ledgrab.cli import main
from tests.support.db_files import activity_rows, foreign_sqlite, live_bytes
from tests.support.live_server import LiveServer


def _labels(path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return sorted(r[0] for r in conn.execute("SELECT label FROM api_keys"))
    finally:
        conn.close()


def test_backup_while_running_then_restore_when_stopped(tmp_path, capsys):
    data_dir = tmp_path / "data"
    out = tmp_path / "saved.db"
    with LiveServer(data_dir) as live:
        with live.client() as client:
            client.post("/api/v1/system/api-keys", json={"label": "before"})
        assert main(["backup", "--data-dir", str(data_dir), str(out)]) == 0
        assert "schema version" in capsys.readouterr().out
        with live.client() as client:
            client.post("/api/v1/system/api-keys", json={"label": "after"})

        before = live_bytes(data_dir)
        assert main(["restore", "--data-dir", str(data_dir), str(out)]) == 1
        err = capsys.readouterr().err
        assert "server is using" in err and "systemctl stop ledgrab" in err
        assert live_bytes(data_dir) == before

    assert _labels(out) == ["admin", "before"]
    assert main(["restore", "--data-dir", str(data_dir), str(out)]) == 0
    assert "previous database is kept" in capsys.readouterr().out
    assert _labels(data_dir / "ledgrab.db") == ["admin", "before"]
    (entry,) = activity_rows(data_dir / "ledgrab.db", "action = 'restore.completed'")
    assert entry[3].startswith("cli:") and out.name in entry[4]
    with LiveServer(data_dir) as live, live.client() as client:
        assert [k["label"] for k in client.get("/api/v1/system/api-keys").json()] == [
            "admin",
            "before",
        ]


def test_backup_refuses_to_overwrite_and_restore_refuses_a_bad_file(tmp_path, capsys):
    data_dir = tmp_path / "data"
    with LiveServer(data_dir):
        pass
    out = tmp_path / "exists.db"
    out.write_bytes(b"mine")
    assert main(["backup", "--data-dir", str(data_dir), str(out)]) == 1
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == b"mine"
    assert main(["backup", "--data-dir", str(data_dir), "--force", str(out)]) == 0

    before = live_bytes(data_dir)
    photos = foreign_sqlite(tmp_path / "photos.db")
    assert main(["restore", "--data-dir", str(data_dir), str(photos)]) == 1
    assert "another program" in capsys.readouterr().err
    assert live_bytes(data_dir) == before
    assert not list(data_dir.glob("*pre-restore*"))


def test_backup_into_a_directory_names_the_file(tmp_path, capsys):
    data_dir = tmp_path / "data"
    with LiveServer(data_dir):
        pass
    assert main(["backup", "--data-dir", str(data_dir), str(tmp_path)]) == 0
    made = list(tmp_path.glob("ledgrab-*.db"))
    assert len(made) == 1 and _labels(made[0]) == ["admin"]
