"""The plain-HTTP port: GET/HEAD get a 308 to the same path over HTTPS; nothing else is served.

No API, no websocket, no static file: a request that carries an API key (or tries to upgrade
to a websocket, or writes) gets a 403 that names the problem and never the key, and a request
with a key is reported through `on_key` so it lands in the activity log. One request per
connection, headers bounded, a slow client cut off, and past the address's budget of requests
(`hold`) each answer waits: the port costs almost nothing to abuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import re
import socket
from collections.abc import Callable

import h11

__all__ = ["MAX_CONNECTIONS", "MAX_HEADER_BYTES", "HoldFor", "RedirectListener"]

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 8192
MAX_CONNECTIONS = 64
READ_TIMEOUT_S = 10.0
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$")
_SAFE_TARGET = re.compile(r"^/[\x21-\x7e]{0,2047}$")

KeyReport = Callable[[str | None, str | None], None]  # (client address, the key), on the loop
HoldFor = Callable[[str | None], float]  # client address -> seconds to hold its answer


class RedirectListener:
    """start() binds host:port (0 picks one; `port` reads it back); stop() closes it."""

    def __init__(
        self, host: str, port: int, https_port: int, on_key: KeyReport, hold: HoldFor | None = None
    ) -> None:
        self._host, self._port, self._https_port = host, port, https_port
        self._on_key = on_key
        self._hold = hold
        self._server: asyncio.Server | None = None
        self._open = 0
        self.port = 0

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        self._server = await asyncio.start_server(
            self._handle, self._host, self._port, family=family, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open += 1
        try:
            if self._open <= MAX_CONNECTIONS:
                request = await asyncio.wait_for(_read_request(reader), READ_TIMEOUT_S)
                if request is not None:
                    peer = writer.get_extra_info("peername")
                    client = peer[0] if peer else None
                    if self._hold is not None and (held_s := self._hold(client)):
                        await asyncio.sleep(held_s)
                    writer.write(self._answer(request, client))
                    await asyncio.wait_for(writer.drain(), READ_TIMEOUT_S)
        except (TimeoutError, OSError, h11.ProtocolError):
            pass
        finally:
            self._open -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _answer(self, request: h11.Request, client: str | None) -> bytes:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        key = _presented_key(headers)
        if key is not None:
            self._on_key(client, key)
            return _refusal(
                "An API key was sent over plain HTTP and was refused. It crossed the network "
                "unencrypted: revoke it and create a new one, and use the https:// address."
            )
        if "upgrade" in headers or request.method not in (b"GET", b"HEAD"):
            return _refusal("This port only redirects pages to HTTPS; use the https:// address.")
        target = request.target.decode("latin-1")
        location = f"https://{self._authority(headers.get('host', ''))}"
        location += target if _SAFE_TARGET.match(target) else "/"
        body = f"Moved to {location}\n".encode()
        return _response(
            308, [("Location", location), ("Content-Type", "text/plain; charset=utf-8")], body
        )

    def _authority(self, host_header: str) -> str:
        """host:https_port from the request's Host (its own port dropped), or a safe default."""
        host = host_header.strip()
        if host.startswith("["):
            host = host[1 : host.find("]")] if "]" in host else ""
        elif host.count(":") == 1:
            host = host.partition(":")[0]
        host = _valid_host(host) or "localhost"
        shown = f"[{host}]" if ":" in host else host
        return shown if self._https_port == 443 else f"{shown}:{self._https_port}"


def _valid_host(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host if _HOSTNAME.match(host) and len(host) <= 253 else None


def _presented_key(headers: dict[str, str]) -> str | None:
    """The key a request offers (the same headers the API guard reads), else None."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if "authorization" in headers:
        return headers["authorization"]  # some other scheme: still a credential sent in clear
    return headers.get("x-api-key") or None


async def _read_request(reader: asyncio.StreamReader) -> h11.Request | None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Request):
            return event
        if event is h11.NEED_DATA:
            data = await reader.read(4096)
            conn.receive_data(data)
            if not data:
                return None
        else:
            return None


def _refusal(detail: str) -> bytes:
    body = json.dumps({"status_code": 403, "detail": detail}).encode()
    return _response(403, [("Content-Type", "application/json")], body)


def _response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    reason = {308: "Permanent Redirect", 403: "Forbidden"}[status]
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body
