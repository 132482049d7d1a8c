"""A corrupt database at startup is moved aside, a fresh one is created, the server runs."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from ledgrab.core.backup.recovery import find_corruption, open_database
from tests.support.db_files import activity_rows, corrupt_pages, make_ledgrab_db
from tests.support.live_server import LiveServer, wait_for


def _garbage(path):
    path.write_bytes(b"\x00\xff" * 8192)


def _flipped(path):
    make_ledgrab_db(path.with_name("src.db"), rows=300)
    corrupt_pages(path.with_name("src.db"), path)


@pytest.mark.parametrize("damage", [_garbage, _flipped], ids=["garbage", "corrupt-pages"])
def test_corrupt_file_is_quarantined_and_a_fresh_database_serves(tmp_path, damage, caplog):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    damage(data_dir / "ledgrab.db")
    original = (data_dir / "ledgrab.db").read_bytes()
    with caplog.at_level(logging.CRITICAL, logger="ledgrab.backup"), LiveServer(data_dir) as live:
        quarantined = list(data_dir.glob("ledgrab.db.corrupt-*"))
        assert len(quarantined) == 1
        assert quarantined[0].read_bytes() == original
        entries = activity_rows(live.app.state.db, "severity = 'critical'")
        assert len(entries) == 1
        assert entries[0][1] == "database.quarantined" and entries[0][3] == "system"
        assert quarantined[0].name in entries[0][4]
        with live.client() as client:
            health = client.get("/health").json()
            assert health["components"]["database"]["state"] == "ok"
            assert client.post("/api/v1/system/api-keys", json={"label": "x"}).status_code == 201
            # a fresh database gets the demo strip, and its LEDs run
            wait_for(
                lambda: any(t["running"] for t in client.get("/api/v1/targets").json()),
                what="the demo target on the fresh database",
            )
    assert find_corruption(data_dir / "ledgrab.db") is None
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert critical and quarantined[0].name in critical[-1].getMessage()


def test_a_healthy_file_is_left_alone(tmp_path):
    path = make_ledgrab_db(tmp_path / "ledgrab.db", rows=10)
    db, recovery, _applied = open_database(path)
    db.close()
    assert recovery is None
    assert not list(tmp_path.glob("*corrupt*"))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM settings").fetchone() == (10,)
    conn.close()


def test_only_the_newest_corrupt_files_are_kept(tmp_path):
    path = tmp_path / "ledgrab.db"
    for _ in range(4):
        _garbage(path)
        db, recovery, _applied = open_database(path, keep_corrupt=2)
        db.close()
        assert recovery is not None
    assert len([p for p in tmp_path.glob("ledgrab.db.corrupt-*") if "-wal" not in p.name]) == 2
