"""A client that never answers the TLS close cannot hold the service's shutdown: the lifespan's
shutdown (the activity log's last commit) still runs, and the server drops the connection
itself instead of waiting for the peer's close_notify (asyncio waits 30 s by default)."""

from __future__ import annotations

import sqlite3

from tests.support.hostile import CLOSED_ERRORS, open_raw
from tests.support.live_server import LiveServer


def _last_kind(data_dir) -> str:
    with sqlite3.connect(data_dir / "ledgrab.db") as db:
        return db.execute("SELECT action FROM activity_log ORDER BY seq DESC LIMIT 1").fetchone()[0]


def test_a_peer_that_ignores_the_tls_close_does_not_hold_shutdown(tmp_path):
    server = LiveServer(tmp_path).start()
    silent = open_raw(server, timeout=25)
    try:
        silent.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert silent.recv(65536).startswith(b"HTTP/1.1 200")
        # From here the client neither reads nor closes: the server's close_notify goes
        # unanswered, as with a browser tab frozen in the background or a hostile client.
        server.stop()
        assert _last_kind(tmp_path) == "server.shutting_down"
        # The server dropped the connection itself: what is left to read ends, it does not
        # hang until the client's own timeout.
        try:
            while silent.recv(65536):
                pass
        except CLOSED_ERRORS:
            pass
    finally:
        silent.close()
