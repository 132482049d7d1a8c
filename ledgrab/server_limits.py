"""uvicorn_config(app, server): every limit of the HTTP/websocket server, set here and only here.

uvicorn's defaults suit a large server behind a proxy, not a 512 MB board on a LAN: websocket
messages of 16 MiB, proxy headers believed from loopback, no bound on a request head, a banner
naming the server. The figures come from `[server]` (config.ServerSettings);
docs/server-limits.md says why each is what it is.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import uvicorn

from ledgrab.api.public_budget import hold_public_requests
from ledgrab.config import ServerSettings
from ledgrab.http_protocol import bounded_http_protocol

__all__ = ["LISTEN_BACKLOG", "trusted_proxy_networks", "uvicorn_config"]

# Connections the kernel queues before the server accepts them. The board serves a handful of
# browsers; a deeper queue only lets a flood wait longer (the kernel caps it at somaxconn anyway).
LISTEN_BACKLOG = 128
# A websocket ping every 20 s, and a peer that does not answer within 20 s is closed: a browser
# tab that vanished (a laptop lid closed) stops holding a feed within a minute.
WS_PING_S = 20.0
# At a stop, requests and feeds still open get this long to finish before they are cancelled and
# the lifespan's shutdown (the log's last commit) runs; systemd's stop timeout is 90 s.
GRACEFUL_SHUTDOWN_S = 10


def trusted_proxy_networks(server: ServerSettings) -> list[str]:
    """The configured proxies in the canonical form uvicorn parses (validated by load_settings)."""
    return [str(ipaddress.ip_network(value, strict=False)) for value in server.trusted_proxies]


def uvicorn_config(app: Any, server: ServerSettings, **extra: Any) -> uvicorn.Config:
    """The uvicorn.Config LedGrab runs with; `extra` adds what is not a limit (logging...)."""
    proxies = trusted_proxy_networks(server)
    return uvicorn.Config(
        hold_public_requests(app),
        http=bounded_http_protocol(server),
        ws="websockets-sansio",
        # The websockets protocol refuses a longer frame or message from its header, before
        # reading the payload, and closes with 1009: nothing large is ever buffered.
        ws_max_size=server.ws_max_message_bytes,
        ws_ping_interval=WS_PING_S,
        ws_ping_timeout=WS_PING_S,
        # Events are small JSON; a compressor per connection costs memory and CPU on a Pi Zero,
        # and inflating what an unauthenticated client sends is work done for a stranger.
        ws_per_message_deflate=False,
        # Without a configured proxy no client may rename itself with X-Forwarded-For: the
        # activity log records the TCP peer. Passed explicitly so that uvicorn's own default
        # (loopback, or $FORWARDED_ALLOW_IPS) never applies.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or [],
        server_header=False,
        limit_concurrency=server.max_connections,
        timeout_keep_alive=server.keep_alive_s,
        backlog=LISTEN_BACKLOG,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        **extra,
    )
