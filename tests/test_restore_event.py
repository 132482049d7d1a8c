"""A restore tells every browser on the events websocket, so pages redraw from the new file."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from tests.support.live_server import wait_for


def test_restore_publishes_database_restored(server, tmp_path):
    with server.client() as client:
        backup = client.get("/api/v1/system/backup").content
        with connect(server.ws_url, ssl=server.ws_ssl_context) as ws:
            ws.send(
                json.dumps({"type": "auth", "key": server.api_key, "types": ["database_restored"]})
            )
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            bus = server.app.state.bus
            wait_for(lambda: bus.subscriber_count >= 1, what="the subscription")
            response = client.post(
                "/api/v1/system/restore",
                params={"name": "mine.db", "origin": "tab-1"},
                content=backup,
            )
            assert response.status_code == 200
            event = json.loads(ws.recv(timeout=10))
    assert event == {"type": "database_restored", "file": "mine.db", "origin": "tab-1"}
