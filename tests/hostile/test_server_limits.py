"""The limits of [server] hold before authentication: request heads (size, lines, time), bodies
sent to routes that need a key, and websockets that never send their key.

Every abuse goes through TLS, as the device serves by default (raw sockets wrapped in the
server's pinned context, websockets over wss://).
"""

import contextlib
import json
import select
import socket

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.hostile import (
    CLOSED_ERRORS,
    open_raw,
    raw_request,
    reset_peak_rss,
    rss_mib,
    status_of,
    write_config,
)
from tests.support.process_server import ServeProcess

BODY_BYTES = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    config = write_config(
        root / "ledgrab.toml",
        {
            "head_timeout_s": 1.0,
            "ws_auth_timeout_s": 1.0,
            "ws_max_unauthenticated_per_address": 2,
        },
    )
    server = ServeProcess(
        root / "data", env={"LEDGRAB_CONFIG": str(config), "LEDGRAB_LOG_LEVEL": "warning"}
    ).start()
    assert server.ssl_context is not None  # the shipped configuration: HTTPS
    yield server
    server.terminate()


def test_a_head_over_16_kib_is_refused_with_431(serve):
    answer = raw_request(serve, b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 10**6)
    assert status_of(answer) == 431
    assert b"16384 bytes" in answer


def test_endless_headers_from_many_clients_are_not_collected(serve):
    """Today's uvicorn/httptools collect a header until it ends: 20 x 10 MB took 220 MiB."""
    reset_peak_rss(serve.proc.pid)
    before = rss_mib(serve.proc.pid)
    statuses = []
    for _ in range(20):
        with open_raw(serve, timeout=30) as conn:
            with contextlib.suppress(*CLOSED_ERRORS):  # refused early
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (10 * 2**20))
            answer = b""
            with contextlib.suppress(*CLOSED_ERRORS):
                answer = conn.recv(4096)
            statuses.append(status_of(answer))
    peak = rss_mib(serve.proc.pid, "VmHWM")
    assert set(statuses) <= {431, 0} and 431 in statuses, statuses
    assert peak - before < 20, f"RSS {before:.0f} -> peak {peak:.0f} MiB"


def test_more_than_100_header_lines_are_refused_with_431(serve):
    lines = b"".join(b"x-h%d: v\r\n" % n for n in range(150))
    answer = raw_request(serve, b"GET / HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
    assert status_of(answer) == 431


def test_a_head_that_stops_halfway_gets_408_and_a_silent_socket_is_closed(serve):
    assert status_of(raw_request(serve, b"GET / HTTP/1.1\r\nHos")) == 408
    assert raw_request(serve, b"") == b""  # closed without a word, not left open


@pytest.mark.parametrize("sent", [b"", b"\x16\x03\x01\x02\x00\x01"], ids=["silent", "half_hello"])
def test_a_tls_handshake_that_never_ends_is_closed_like_a_silent_head(serve, sent):
    """The head timer starts once TLS is up; asyncio would wait 60 s for a handshake (and such a
    socket does not count against max_connections): it gets head_timeout_s like a head does."""
    with socket.create_connection(("127.0.0.1", serve.port), timeout=20) as conn:
        conn.sendall(sent)
        with contextlib.suppress(ConnectionResetError):  # closed by an abort: the same outcome
            assert conn.recv(1) == b""  # a TimeoutError here: still held open


def _unauthenticated_upload(server, path: str) -> bytes:
    """Send a 64 MB chunked body to `path` without a key; the answer (it may come before the end:
    what arrives meanwhile is picked up without waiting)."""
    with open_raw(server, timeout=30) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"%x\r\n" % 65536 + bytes(65536) + b"\r\n"
        answer = b""
        try:
            for _ in range(BODY_BYTES // 65536):
                conn.sendall(chunk)
                if conn.pending() or select.select([conn], [], [], 0)[0]:
                    answer += conn.recv(65536)
            while b"\r\n\r\n" not in answer and (data := conn.recv(65536)):
                answer += data
        except (TimeoutError, *CLOSED_ERRORS):
            pass
        return answer


@pytest.mark.parametrize("path", ["/api/v1/devices", "/api/v1/system/restore"])
def test_a_body_without_a_key_is_answered_401_and_never_held(serve, path):
    reset_peak_rss(serve.proc.pid)
    before = rss_mib(serve.proc.pid)
    answer = _unauthenticated_upload(serve, path)
    peak = rss_mib(serve.proc.pid, "VmHWM")
    assert status_of(answer) == 401
    assert peak - before < 20, f"RSS {before:.0f} -> peak {peak:.0f} MiB"
    assert not [p.name for p in serve.data_dir.iterdir() if "restore" in p.name or "tmp" in p.name]


def test_an_api_body_over_the_limit_is_refused_with_413(serve):
    def body():
        for _ in range(32):
            yield b" " * 65536  # 2 MiB of JSON whitespace, no Content-Length

    answer = httpx.post(
        f"{serve.base_url}/api/v1/devices",
        content=body(),
        headers={"Authorization": f"Bearer {serve.api_key}", "Content-Type": "application/json"},
        timeout=30,
        verify=serve.verify,
    )
    assert answer.status_code == 413


def _feed(serve):
    return connect(serve.ws_url, ssl=serve.ws_ssl_context)


def _close_code(ws) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=20)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_sockets_that_never_send_a_key_are_bounded_and_timed_out(serve):
    with _feed(serve) as first, _feed(serve) as second, _feed(serve) as third:
        assert _close_code(third) == 1013  # no room: two per address are waiting already
        assert _close_code(first) == 4401  # no key within ws_auth_timeout_s
        assert _close_code(second) == 4401
    with _feed(serve) as again:  # the places were given back
        again.send(json.dumps({"type": "auth", "key": serve.api_key}))
        assert json.loads(again.recv(timeout=10))["type"] == "hello"


def test_a_websocket_message_over_4_kib_closes_with_1009(serve):
    with _feed(serve) as ws:
        ws.send(json.dumps({"type": "auth", "key": "k" * 5000}))
        assert _close_code(ws) == 1009


def test_a_message_split_into_small_fragments_is_counted_whole(serve):
    with _feed(serve) as ws:
        # Ten 1000-byte frames of one message. The server may close after the fifth, while the
        # rest are still being sent; the close code is read the same way either way.
        with contextlib.suppress(ConnectionClosed):
            ws.send(["k" * 1000] * 10)
        assert _close_code(ws) == 1009
