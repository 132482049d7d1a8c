"""A revoked key loses its open event feeds (closed with 4401) and its next requests (401) within
the 10 s the README promises, whether revoked through the API or by `ledgrab keys revoke` run in
another process beside the server."""

import json
import subprocess
import sys
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.live_server import wait_for

PROMISED_S = 10.0


def _create_key(server, label: str) -> str:
    with server.client() as client:
        answer = client.post("/api/v1/system/api-keys", json={"label": label})
    assert answer.status_code == 201, answer.text
    return answer.json()["key"]


def _authenticate(ws, key: str):
    ws.send(json.dumps({"type": "auth", "key": key}))
    assert json.loads(ws.recv(timeout=10))["type"] == "hello"
    return ws


def _close_code_within(ws, seconds: float) -> int:
    """Read (and drop) events until the server closes the feed; fail past `seconds`."""
    deadline = time.monotonic() + seconds
    with pytest.raises(ConnectionClosed) as closed:
        while (left := deadline - time.monotonic()) > 0:
            ws.recv(timeout=left)
    return closed.value.rcvd.code if closed.value.rcvd else None


def _status_with(server, key: str) -> int:
    with server.client(key=key) as client:
        return client.get("/api/v1/devices").status_code


def test_api_revocation_closes_the_keys_feeds_and_only_those(server):
    key = _create_key(server, "tablet")
    with (
        connect(server.ws_url, ssl=server.ws_ssl_context) as revoked_feed,
        connect(server.ws_url, ssl=server.ws_ssl_context) as admin_feed,
    ):
        _authenticate(revoked_feed, key)
        _authenticate(admin_feed, server.api_key)
        with server.client() as client:
            assert client.delete("/api/v1/system/api-keys/tablet").status_code == 204
        assert _close_code_within(revoked_feed, PROMISED_S) == 4401
        assert _status_with(server, key) == 401
        # The admin's feed stays open and keeps receiving.
        with server.client() as client:
            client.post(
                "/api/v1/devices", json={"name": "after", "type": "virtual", "led_count": 4}
            )
        names = set()
        while "after" not in names:
            message = json.loads(admin_feed.recv(timeout=10))
            names.add(message.get("entity_name"))


def test_cli_revocation_from_another_process_reaches_feeds_and_requests(server):
    key = _create_key(server, "kiosk")
    with connect(server.ws_url, ssl=server.ws_ssl_context) as feed:
        _authenticate(feed, key)
        result = subprocess.run(
            [sys.executable, "-m", "ledgrab", "keys", "revoke", "kiosk"],
            env={"LEDGRAB_DATA_DIR": str(server.data_dir), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert _close_code_within(feed, PROMISED_S) == 4401
    wait_for(lambda: _status_with(server, key) == 401, timeout=PROMISED_S, what="a 401")
