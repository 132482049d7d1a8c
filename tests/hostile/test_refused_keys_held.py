"""A client sending wrong keys back to back is answered late past a few a minute (on HTTP and
on the events websocket); a right key, even from the same address, and a wrong one from another
address are answered at once. A real server over TLS; `free` 2 and `delay` 5 s here."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.live_server import LiveServer

FREE = 2
DELAY_S = 5.0


@pytest.fixture
def held(tmp_path):
    auth = {"free_refusals_per_minute": FREE, "refusal_delay_s": DELAY_S}
    with LiveServer(tmp_path / "data", auth=auth) as live:
        yield live


def wrong_key_status(server, local_address: str = "127.0.0.1", key: str | None = "lg_wrong"):
    transport = httpx.HTTPTransport(local_address=local_address, verify=server.verify)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=server.base_url, transport=transport, timeout=60) as client:
        return client.get("/api/v1/devices", headers=headers).status_code


def websocket_close_code(server, key: str) -> int:
    with connect(server.ws_url, ssl=server.ws_ssl_context, open_timeout=60) as ws:
        ws.send(json.dumps({"type": "auth", "key": key}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=60)
    return closed.value.rcvd.code


def test_refusals_past_the_free_ones_wait_while_a_right_key_goes_through(held):
    assert [wrong_key_status(held) for _ in range(FREE)] == [401] * FREE
    with ThreadPoolExecutor(3) as pool:
        wrong = pool.submit(wrong_key_status, held)
        missing = pool.submit(wrong_key_status, held, key=None)
        socket = pool.submit(websocket_close_code, held, "lg_wrong_too")
        with held.client() as right:
            assert right.get("/api/v1/devices").status_code == 200
        assert wrong_key_status(held, local_address="127.0.0.2") == 401
        assert not wrong.done() and not missing.done() and not socket.done()
        assert (wrong.result(), missing.result(), socket.result()) == (401, 401, 4401)
