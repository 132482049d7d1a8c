"""Blocking senders for the forwarder threads (never on the event loop): syslog over UDP, TCP
and TLS, and HTTP POST. Every socket call has a timeout, so a dead collector costs a thread's
wait, not the server's."""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import os
import select
import socket
import ssl
import struct
import tempfile
import termios
from collections.abc import Sequence
from urllib.parse import urlsplit

from ledgrab.core.forwarding.config import SyslogTarget
from ledgrab.core.forwarding.syslog_format import octet_frame

__all__ = ["DeliveryError", "HttpPoster", "SyslogDatagrams", "SyslogStream", "tls_context"]


class DeliveryError(Exception):
    """The collector did not take a batch (the message says why, never a secret)."""


def tls_context(
    ca_pem: str | None, client_cert_pem: str | None = None, client_key_pem: str | None = None
) -> ssl.SSLContext:
    """Verify the server against `ca_pem` (else the system's CAs); optionally present a client
    certificate. The key passes through a private temporary file: `ssl` loads keys from files
    only, and the file is gone before this returns."""
    context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    if client_cert_pem and client_key_pem:
        with tempfile.TemporaryDirectory(prefix="ledgrab-tls-") as private:
            path = os.path.join(private, "client.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(client_cert_pem.rstrip() + "\n" + client_key_pem.rstrip() + "\n")
            context.load_cert_chain(path)
    return context


class SyslogDatagrams:
    """RFC 5426: one message per UDP datagram. A datagram is never acknowledged: sent counts as
    delivered (docs/forwarding.md says what that means in an outage)."""

    confirms = True

    def __init__(self, target: SyslogTarget, timeout_s: float) -> None:
        self._address = (target.host, target.port)
        self._timeout = timeout_s
        self._sock: socket.socket | None = None

    def send(self, messages: Sequence[bytes]) -> None:
        if self._sock is None:
            family, kind, proto, _, address = socket.getaddrinfo(
                *self._address, type=socket.SOCK_DGRAM
            )[0]
            sock = socket.socket(family, kind, proto)
            sock.settimeout(self._timeout)
            sock.connect(address)  # connected: an ICMP "port unreachable" comes back as an error
            self._sock = sock
        try:
            for message in messages:
                self._sock.send(message)
        except OSError:
            self.close()
            raise

    def check(self) -> str:
        return "ok"

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class SyslogStream:
    """RFC 6587 octet-counted messages over one kept-open TCP connection, TLS (RFC 5425) when a
    context is given. Written is not delivered: a batch counts only once a later look at the
    connection (`check`) finds it acknowledged and still open; `closed_because` says why the
    collector closed it (a TLS alert, a reset) when it said anything."""

    confirms = False

    def __init__(
        self, target: SyslogTarget, timeout_s: float, context: ssl.SSLContext | None = None
    ) -> None:
        self._address = (target.host, target.port)
        self._server_name = target.server_name or target.host
        self._timeout = timeout_s
        self._context = context
        self._sock: socket.socket | None = None
        self.closed_because = "the collector closed the connection"

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self._address, timeout=self._timeout)
        if self._context is None:
            return sock
        try:
            return self._context.wrap_socket(sock, server_hostname=self._server_name)
        except BaseException:
            sock.close()
            raise

    def send(self, messages: Sequence[bytes]) -> None:
        if self._sock is None:
            self._sock = self._connect()
        try:
            self._sock.sendall(b"".join(octet_frame(m) for m in messages))
        except OSError:
            self.close()
            raise

    def check(self) -> str:
        """ "closed" when the collector closed or reset the connection (what it may have sent,
        a TLS session ticket, is read and dropped); "pending" while its TCP has not acknowledged
        everything written; else "ok"."""
        sock = self._sock
        if sock is None:
            return "closed"
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return "pending" if _unacknowledged(sock) else "ok"
            sock.setblocking(False)
            try:
                data = sock.recv(4096)
            finally:
                sock.settimeout(self._timeout)
        except (ssl.SSLWantReadError, BlockingIOError):
            data = None
        except (OSError, ValueError) as exc:
            self.closed_because = (
                f"the collector closed the connection: {type(exc).__name__}: {exc}"
            )
            data = b""
        else:
            if data == b"":
                self.closed_because = "the collector closed the connection"
        if data == b"":
            self.close()
            return "closed"
        return "pending" if _unacknowledged(sock) else "ok"

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


def _unacknowledged(sock: socket.socket) -> int:
    """Bytes written that the peer's TCP has not acknowledged (Linux SIOCOUTQ); 0 elsewhere.
    A collector whose host went away never acknowledges: its batches are sent again."""
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    except OSError:
        return 0


class HttpPoster:
    """POST a body to one URL over a kept-alive connection; any 2xx is a delivery."""

    confirms = True

    def __init__(
        self, url: str, timeout_s: float, headers: dict[str, str], ca_pem: str | None = None
    ) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout_s
        self._headers = headers
        self._context = tls_context(ca_pem) if self._https else None
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, headers: dict[str, str]) -> None:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=self._context
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
        try:
            self._conn.request(
                "POST",
                self._path,
                body=body,
                headers={"Content-Type": "application/json", **self._headers, **headers},
            )
            response = self._conn.getresponse()
            reply = response.read(4096)
            if response.will_close or not response.isclosed():
                self.close()  # a longer reply than read: the connection cannot be reused
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if not 200 <= response.status < 300:
            detail = reply.decode("utf-8", "replace").strip().splitlines()[:1]
            raise DeliveryError(f"HTTP {response.status} {response.reason}: {' '.join(detail)}")

    def check(self) -> str:
        return "ok"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
