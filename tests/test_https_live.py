"""HTTPS as a LAN client meets it: a pinned TLS client gets the API and the events websocket; plain
HTTP gets a redirect and never data; a key sent in clear is refused, not echoed, and recorded."""

from __future__ import annotations

import http.client
import json
import socket
import ssl

import httpx
import pytest
from websockets.sync.client import connect

from ledgrab.core.tls.pinning import FingerprintMismatch, check_pin
from tests.support.live_server import wait_for


def _pinned_get(port: int, path: str, fingerprint: str, key: str | None = None):
    """GET over TLS trusting nothing but the pin: no CA, no name check, the fingerprint decides."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.connect()
        check_pin(conn.sock, fingerprint)  # before the key leaves this process
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _plain(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_pinned_client_reaches_the_api_and_the_fingerprint_is_on_health(server):
    status, body = _pinned_get(server.port, "/health", server.fingerprint)
    assert status == 200
    tls = json.loads(body)["components"]["tls"]
    assert tls["state"] == "ok"
    assert tls["details"]["fingerprint_sha256"] == server.fingerprint
    assert tls["details"]["mode"] == "self-signed"
    status, body = _pinned_get(
        server.port, "/api/v1/system/api-keys", server.fingerprint, server.api_key
    )
    assert status == 200 and b"admin" in body


def test_a_wrong_pin_stops_the_client_before_it_sends_the_key(server):
    wrong = ":".join(["00"] * 32)
    with pytest.raises(FingerprintMismatch):
        _pinned_get(server.port, "/api/v1/system/api-keys", wrong, server.api_key)


def test_the_certificate_is_trusted_by_name_and_the_websocket_is_wss(server):
    assert server.base_url.startswith("https://") and server.ws_url.startswith("wss://")
    with server.client() as client:
        assert client.get("/api/v1/system/api-keys").status_code == 200
    headers = {"X-API-Key": server.api_key}
    with connect(server.ws_url, ssl=server.ws_ssl_context, additional_headers=headers) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
    # A client that trusts only the usual CAs refuses the device's own certificate.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/health")


def test_plain_http_on_the_https_port_gets_nothing(server):
    answer = _plain(server.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert b"200 OK" not in answer and b'"status"' not in answer


def test_the_plain_port_redirects_pages_and_never_serves_data(server):
    response = httpx.get(f"{server.http_url}/api/v1/devices?x=1", headers={"Host": "ledgrab.local"})
    assert response.status_code == 308
    assert response.headers["location"] == f"https://ledgrab.local:{server.port}/api/v1/devices?x=1"
    followed = httpx.get(f"{server.http_url}/health", follow_redirects=True, verify=server.verify)
    assert followed.status_code == 200 and str(followed.url).startswith(server.base_url)
    # A forged Host cannot steer the redirect anywhere but a host name or address.
    odd = httpx.get(f"{server.http_url}/", headers={"Host": "evil.example/@x"})
    assert odd.headers["location"] == f"https://localhost:{server.port}/"
    # Writes and websocket upgrades are refused, not redirected.
    assert httpx.post(f"{server.http_url}/api/v1/devices", json={}).status_code == 403
    upgrade = _plain(
        _port(server),
        b"GET /api/v1/events/ws HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    assert upgrade.startswith(b"HTTP/1.1 403 ")


def _port(server) -> int:
    return int(server.http_url.rsplit(":", 1)[1])


def test_a_key_sent_in_clear_is_refused_never_echoed_and_recorded(server):
    key = server.api_key
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        response = httpx.get(f"{server.http_url}/api/v1/system/api-keys", headers=headers)
        assert response.status_code == 403
        assert key not in response.text and key[:8] not in response.text
        assert "revoke" in response.json()["detail"]

    def recorded():
        with server.client() as client:
            page = client.get("/api/v1/activity", params={"categories": "auth"}).json()
        return [e for e in page["items"] if e["action"] == "auth.key_over_http"]

    entries = wait_for(recorded, what="the auth entry")
    assert entries[0]["severity"] == "warning"
    assert entries[0]["metadata"]["address"] == "127.0.0.1"
    assert key not in json.dumps(entries)


def test_oversized_headers_on_the_plain_port_are_cut_off(server):
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
    try:
        answer = _plain(_port(server), request)
    except ConnectionResetError:
        answer = b""
    assert b"308" not in answer
