"""Uploads are bounded: one at a time, and never more than the card has room for."""

from __future__ import annotations

import os
import socket
import time

from tests.support.db_files import live_bytes
from tests.support.live_server import LiveServer, wait_for


def _open_upload(live: LiveServer, length: int, first: bytes) -> socket.socket:
    """Start a restore upload by hand and leave it hanging after `first` bytes of the body."""
    raw = socket.create_connection(("127.0.0.1", live.port))
    sock = live.ssl_context.wrap_socket(raw, server_hostname="127.0.0.1")  # HTTPS, as the server
    head = (
        f"POST /api/v1/system/restore HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {live.api_key}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode() + first)
    return sock


def _read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_a_second_upload_waits_its_turn(server):
    work = server.data_dir / "backup-work"
    before = live_bytes(server.data_dir)
    hanging = _open_upload(server, 10 << 20, b"SQLite format 3\x00" + b"\0" * 5000)
    try:
        wait_for(lambda: list(work.glob("upload-*")), what="the first upload to be staged")
        with server.client() as client:
            second = client.post("/api/v1/system/restore", content=b"x" * 100)
        assert second.status_code == 409
        assert "already running" in second.json()["detail"]
    finally:
        hanging.close()
    # the abandoned upload is removed; nothing live changed
    wait_for(lambda: not list(work.iterdir()), what="the abandoned upload to be removed")
    assert live_bytes(server.data_dir) == before


def test_an_upload_bigger_than_the_free_space_is_refused_before_reading(tmp_path):
    with LiveServer(tmp_path / "d") as live:
        live.app.state.backup.settings.max_upload_bytes = 1 << 40
        sock = _open_upload(live, (1 << 40) - 1, b"")
        try:
            assert _read_status(sock) == 507
        finally:
            sock.close()
        assert list((live.data_dir / "backup-work").iterdir()) == []


def test_at_most_two_snapshots_wait_for_download(server):
    """Snapshots still being sent are files in backup-work; a third download waits its turn,
    and a snapshot whose client vanished (older than 10 minutes) no longer counts."""
    work = server.data_dir / "backup-work"
    pending = [work / "download-a.db", work / "download-b.db"]
    for path in pending:
        path.write_bytes(b"being sent")
    with server.client() as client:
        refused = client.get("/api/v1/system/backup")
        assert refused.status_code == 503
        assert "2 backups are already being downloaded" in refused.json()["detail"]
        old = time.time() - 3600
        os.utime(pending[0], (old, old))
        assert client.get("/api/v1/system/backup").status_code == 200
    assert not pending[0].exists() and pending[1].exists()
