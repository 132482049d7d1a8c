"""The events websocket: key in the first message (or a header), never before; live events flow."""

import json
import threading

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.live_server import LiveServer


def receive_json(ws, timeout=10):
    return json.loads(ws.recv(timeout=timeout))


def test_first_message_auth_then_hello_with_actor(server):
    with connect(server.ws_url, ssl=server.ws_ssl_context) as ws:
        ws.send(json.dumps({"type": "auth", "key": server.api_key}))
        hello = receive_json(ws)
    assert hello["type"] == "hello"
    assert hello["actor"] == "admin"


def test_header_auth_for_scripts(server):
    with connect(
        server.ws_url, ssl=server.ws_ssl_context, additional_headers={"X-API-Key": server.api_key}
    ) as ws:
        assert receive_json(ws)["type"] == "hello"


@pytest.mark.parametrize(
    "first",
    [
        json.dumps({"type": "auth", "key": "lg_wrong"}),
        json.dumps({"type": "auth"}),
        json.dumps({"type": "subscribe"}),
        "not json",
    ],
)
def test_bad_first_message_closes_with_4401_and_sends_nothing(server, first):
    with connect(server.ws_url, ssl=server.ws_ssl_context) as ws:
        ws.send(first)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 4401


def test_events_from_a_foreign_thread_arrive_in_order(server):
    bus = server.app.state.bus
    with connect(server.ws_url, ssl=server.ws_ssl_context) as ws:
        ws.send(json.dumps({"type": "auth", "key": server.api_key}))
        assert receive_json(ws)["type"] == "hello"

        def produce():
            for n in range(50):
                bus.publish("device_state", {"n": n})

        worker = threading.Thread(target=produce)
        worker.start()
        worker.join()
        received = [receive_json(ws) for _ in range(50)]
    assert [m["n"] for m in received] == list(range(50))
    assert {m["type"] for m in received} == {"device_state"}


def test_type_filter_and_debug_log_only_on_request(server):
    with connect(server.ws_url, ssl=server.ws_ssl_context) as ws:
        ws.send(json.dumps({"type": "auth", "key": server.api_key, "types": ["log_record"]}))
        assert receive_json(ws)["type"] == "hello"
        server.app.state.bus.publish("device_state", {"skipped": True})
        import logging

        logging.getLogger("ledgrab.test").warning("visible in the log viewer")
        message = receive_json(ws)
    assert message["type"] == "log_record"
    assert message["line"]["message"] == "visible in the log viewer"


def test_unknown_type_in_the_filter_is_refused(server):
    with connect(server.ws_url, ssl=server.ws_ssl_context) as ws:
        ws.send(json.dumps({"type": "auth", "key": server.api_key, "types": ["nope"]}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 4400
    assert "nope" in closed.value.rcvd.reason


def test_anonymous_actor_when_auth_is_disabled(tmp_path):
    no_auth = LiveServer(tmp_path / "d", environ={"LEDGRAB_AUTH_ENABLED": "false"})
    with no_auth as live, connect(live.ws_url, ssl=live.ws_ssl_context) as ws:
        ws.send(json.dumps({"type": "auth"}))
        assert receive_json(ws)["actor"] == "anonymous"


def test_an_activity_entry_arrives_on_the_feed_as_it_is_stored(tmp_path):
    # The feed's message is built after record() returns (at the loop's next turn): it must
    # still be the entry a reader of the log gets, metadata and clock stamp included.
    with LiveServer(tmp_path / "data") as server, server.client() as client:
        with connect(server.ws_url, ssl=server.ws_ssl_context) as ws:
            auth = {"type": "auth", "key": server.api_key, "types": ["activity_logged"]}
            ws.send(json.dumps(auth))
            assert receive_json(ws)["type"] == "hello"
            assert client.put("/api/v1/activity/settings", json={"max_days": 10}).is_success
            message = receive_json(ws)
        stored = client.get(f"/api/v1/activity/{message['entry']['id']}").json()
    assert message["type"] == "activity_logged"
    assert message["entry"]["metadata"]["fields"] == ["max_days"]
    assert "clock" in message["entry"]["metadata"]
    assert len(message["entry"]) == 11  # the entry's fields; the API adds its own beside them
    assert message["entry"] == {field: stored[field] for field in message["entry"]}
