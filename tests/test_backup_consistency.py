"""A backup taken while the writer commits is one moment in time: intact, with matching counts."""

from __future__ import annotations

import sqlite3
import threading

from ledgrab.storage.database import Database
from tests.support.live_server import wait_for


def _commit_one(conn: sqlite3.Connection, i: int) -> None:
    # Two writes in one transaction: a backup must see both or neither.
    conn.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (f"row{i:06d}", "x" * 200))
    Database.put_setting(conn, "count", i)


def test_backups_during_commits_are_consistent(server, tmp_path):
    db = server.app.state.db
    stop = threading.Event()
    written = [0]

    def writer():
        while not stop.is_set():
            db.write_blocking(_commit_one, written[0] + 1)
            written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    counts = []
    try:
        wait_for(lambda: written[0] >= 10, what="the writer to get going")
        with server.client() as client:
            for n in range(4):
                response = client.get("/api/v1/system/backup")
                assert response.status_code == 200
                path = tmp_path / f"b{n}.db"
                path.write_bytes(response.content)
                conn = sqlite3.connect(path)
                assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                rows = conn.execute("SELECT count(*) FROM settings WHERE key LIKE 'row%'")
                count = conn.execute("SELECT value FROM settings WHERE key = 'count'").fetchone()
                assert rows.fetchone()[0] == int(count[0])
                counts.append(int(count[0]))
                conn.close()
    finally:
        stop.set()
        thread.join()
    final = db.get_setting_blocking("count")
    assert counts == sorted(counts)  # each copy is a later moment than the one before
    assert counts[0] >= 10 and counts[-1] <= final
