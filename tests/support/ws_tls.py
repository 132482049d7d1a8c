"""The client TLS context for websockets' sync client: TLS 1.2 at most.

That client reads its socket in a thread of its own while the caller writes to it. Under TLS 1.3
the server's session tickets arrive after the handshake, so the reader thread is inside
OpenSSL's read on the same connection when the caller sends the upgrade request, and OpenSSL
does not support one connection used from two threads at once: under load the request was now
and then lost (the server's protocol had received 0 bytes; 2 upgrades in about 210 hung, while
the asyncio client, one thread, never did). TLS 1.2 delivers its tickets inside the handshake.
Browsers and the asyncio client keep testing TLS 1.3.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from ledgrab.core.tls.pinning import trusting_context

__all__ = ["sync_websocket_context"]


def sync_websocket_context(cert: Path) -> ssl.SSLContext:
    """Trusts `cert` only, as the tests' other clients do, and speaks TLS 1.2 at most."""
    context = trusting_context(cert)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context
