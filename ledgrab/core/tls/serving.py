"""What `ledgrab serve` (and the test servers) do with TLS: prepare, announce, and shut down a
server whose websockets close slowly."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn

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
