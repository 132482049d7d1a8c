"""A client without a right key sending requests back to back is answered late past its
address's budget: wrong or missing keys (HTTP and the events websocket) past a few a minute, the
public routes (/health, the UI's files) past more. A right key, even from the same address, and
anything from another address are answered at once. A real server over TLS; small budgets and a
5 s delay here."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.live_server import LiveServer

FREE = 2
FREE_PUBLIC = 4
DELAY_S = 5.0


@pytest.fixture
def held(tmp_path):
    auth = {
        "free_refusals_per_minute": FREE,
        "free_public_requests_per_minute": FREE_PUBLIC,
        "over_budget_delay_s": DELAY_S,
    }
    with LiveServer(tmp_path / "data", auth=auth) as live:
        yield live


def status_of_get(
    server, path: str = "/api/v1/devices", key: str | None = "lg_wrong", local: str = "127.0.0.1"
) -> int:
    transport = httpx.HTTPTransport(local_address=local, verify=server.verify)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=server.base_url, transport=transport, timeout=60) as client:
        return client.get(path, headers=headers).status_code


def websocket_close_code(server, key: str) -> int:
    with connect(server.ws_url, ssl=server.ws_ssl_context, open_timeout=60) as ws:
        ws.send(json.dumps({"type": "auth", "key": key}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=60)
    return closed.value.rcvd.code


def test_refusals_past_the_free_ones_wait_while_a_right_key_goes_through(held):
    assert [status_of_get(held) for _ in range(FREE)] == [401] * FREE
    with ThreadPoolExecutor(3) as pool:
        wrong = pool.submit(status_of_get, held)
        missing = pool.submit(status_of_get, held, key=None)
        socket = pool.submit(websocket_close_code, held, "lg_wrong_too")
        with held.client() as right:
            assert right.get("/api/v1/devices").status_code == 200
        assert status_of_get(held, local="127.0.0.2") == 401
        assert not wrong.done() and not missing.done() and not socket.done()
        assert (wrong.result(), missing.result(), socket.result()) == (401, 401, 4401)


def test_public_requests_past_their_budget_wait_while_the_api_with_a_key_goes_through(held):
    assert [status_of_get(held, "/health", key=None) for _ in range(FREE_PUBLIC)] == [200] * 4
    with ThreadPoolExecutor(2) as pool:
        page = pool.submit(status_of_get, held, "/", None)
        health = pool.submit(status_of_get, held, "/health", None)
        with held.client() as right:  # the API with a right key never counts
            assert [right.get("/api/v1/devices").status_code for _ in range(10)] == [200] * 10
        assert status_of_get(held, "/health", key=None, local="127.0.0.2") == 200
        assert not page.done() and not health.done()
        assert (page.result(), health.result()) == (200, 200)


def test_the_plain_http_port_shares_the_public_budget(held):
    transport = httpx.HTTPTransport(local_address="127.0.0.1")
    with httpx.Client(transport=transport, timeout=60) as plain:
        answers = [plain.get(f"{held.http_url}/").status_code for _ in range(FREE_PUBLIC)]
        assert answers == [308] * FREE_PUBLIC
        with ThreadPoolExecutor(1) as pool:
            late = pool.submit(plain.get, f"{held.http_url}/")
            assert status_of_get(held, "/health", key=None, local="127.0.0.2") == 200
            with held.client() as right:
                assert right.get("/api/v1/devices").status_code == 200
            assert not late.done()
            assert late.result().status_code == 308
