"""uvicorn's httptools protocol with a bounded request head: its bytes, its header lines, its time.

uvicorn bounds neither: httptools keeps collecting a header value until it ends, and a connection
that sends half a request line is held forever. Over a limit the client gets 431 (too large) or
408 (too slow) as a JSON error and the connection is closed; a connection that never sent a byte
is closed silently (browsers open spare connections and may leave them unused).
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ledgrab.config import ServerSettings

__all__ = ["BoundedHttpToolsProtocol", "bounded_http_protocol"]


class _HeadRefused(Exception):
    """Raised inside a parser callback; httptools turns it into a parser error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """The limits are class attributes; bounded_http_protocol() makes a subclass with the
    configured ones (uvicorn creates protocol instances itself, with its own arguments)."""

    max_head_bytes = 16384
    max_headers = 100
    head_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._in_head = True  # the next bytes belong to a request line or headers
        self._head_bytes = 0
        self._header_count = 0
        self._refusal: tuple[int, str] | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Feed the parser no more than the head may still take, so that an endless header is
        # refused at the limit instead of being collected first.
        while data and self._in_head:
            room = self.max_head_bytes - self._head_bytes
            if room <= 0:
                self._refuse(
                    431, f"the request line and headers exceed {self.max_head_bytes} bytes"
                )
                return
            if self._head_timer is None:
                self._arm_head_timer()
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return  # refused, or upgraded to a websocket (which reads on by itself)
        if data:
            super().data_received(data)

    # -- parser callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._header_count = 0
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            self._refusal = (431, f"more than {self.max_headers} header lines")
            raise _HeadRefused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # a keep-alive connection's next request starts here
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to any parser error; ours when a callback refused the head."""
        if self._refusal is not None:
            self._refuse(*self._refusal)
        else:
            super().send_400_response(msg)

    # -- refusing -------------------------------------------------------------------------------

    def _refuse(self, status: int, detail: str) -> None:
        self._cancel_head_timer()
        if self.transport.is_closing():
            return
        body = json.dumps({"status_code": status, "detail": detail}).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: application/json\r\n")
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes == 0:
            self.transport.close()
        else:
            self._refuse(408, f"the request head did not arrive within {self.head_timeout_s:g} s")


def bounded_http_protocol(server: ServerSettings) -> type[BoundedHttpToolsProtocol]:
    """A protocol class carrying `server`'s head limits, for uvicorn.Config(http=...)."""
    return type(
        "LedGrabHttpProtocol",
        (BoundedHttpToolsProtocol,),
        {
            "max_head_bytes": server.max_head_bytes,
            "max_headers": server.max_headers,
            "head_timeout_s": server.head_timeout_s,
        },
    )
