"""What `ledgrab serve` (and the test servers) do with TLS: prepare, announce, and shut down a
server whose websockets close slowly."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import uvicorn
from uvicorn._compat import asyncio_run

from ledgrab.config import Settings
from ledgrab.core.tls.service import TlsService

__all__ = ["FINGERPRINT_LINE", "Server", "banner", "prepare_tls"]

log = logging.getLogger(__name__)

FINGERPRINT_LINE = "TLS certificate SHA-256 fingerprint: "


def prepare_tls(settings: Settings) -> TlsService:
    """A TlsService with its certificate made or loaded; raises TlsConfigError (exit 2)."""
    tls = TlsService(settings.server, Path(settings.data_dir))
    tls.prepare_blocking()
    return tls


def banner(tls: TlsService) -> str:
    """The line printed under "serving on …": the fingerprint to compare in the browser."""
    if not tls.enabled:
        return 'TLS is off ([server] tls = "off"): only safe behind a proxy that adds HTTPS'
    return f"{FINGERPRINT_LINE}{tls.fingerprint}"


class Server(uvicorn.Server):
    """uvicorn.Server whose shutdown survives a websocket its peer is already closing.

    uvicorn (0.55, websockets-sansio) answers a peer's close frame and closes the transport, but
    until the transport reports it is gone, its shutdown() asks the same connection to send a
    close frame of its own, which raises: the exception escapes Server.shutdown, the lifespan's
    shutdown (the activity log's last commit, the database close) never runs. Over TLS the
    transport takes a round trip to go, so a tab closed while the service stops hits it.
    """

    def run(self, sockets=None) -> None:
        """uvicorn's run, on a loop whose TLS handshakes are bounded (see _bounded_tls)."""
        factory = self.config.get_loop_factory() or asyncio.new_event_loop
        timeout = getattr(self.config.http, "head_timeout_s", None)
        if timeout is None:
            return super().run(sockets)
        return asyncio_run(
            self.serve(sockets=sockets),
            loop_factory=lambda: _bounded_tls(factory(), timeout),
        )

    async def shutdown(self, sockets=None) -> None:
        for connection in list(self.server_state.connections):
            connection.shutdown = _tolerant(connection)
        await super().shutdown(sockets)


def _tolerant(connection):
    shutdown = connection.shutdown

    def tolerant_shutdown() -> None:
        try:
            shutdown()
        except Exception as exc:  # the peer is going anyway: make sure the socket goes too
            log.debug("closing a connection at shutdown: %r", exc)
            connection.transport.close()

    return tolerant_shutdown


# How long a closing TLS connection waits for the peer's close_notify before the socket is
# dropped. asyncio's default is 30 s, and uvicorn's shutdown waits for every connection to be
# gone: a frozen background tab, or a client that stops reading on purpose, held the service's
# last commit that long (and longer than systemd's stop timeout allows).
TLS_CLOSE_S = 3.0


def _bounded_tls(loop: asyncio.AbstractEventLoop, handshake_s: float):
    """`loop`, whose listening sockets give a TLS handshake `handshake_s` (the request head's
    time) and a TLS close TLS_CLOSE_S. uvicorn passes no handshake timeout, so asyncio's 60 s
    applies, and the head timer and max_connections only start counting once the handshake is
    done: without this a client that opens connections and never says hello holds each for a
    minute, unbounded in number."""
    create_server = loop.create_server

    async def bounded_create_server(*args, **kwargs):
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_handshake_timeout", handshake_s)
            kwargs.setdefault("ssl_shutdown_timeout", TLS_CLOSE_S)
        return await create_server(*args, **kwargs)

    loop.create_server = bounded_create_server  # type: ignore[method-assign]
    return loop
