"""An HTTP collector on loopback for forwarding tests: records each POST it accepts; can answer
with an error code, or stop and start again on the same port (a collector outage)."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["HttpCollector", "Received"]


class Received:
    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path, self.headers, self.body = path, headers, body


class HttpCollector:
    """`received` holds the accepted requests in arrival order; `answer` is the status code
    given (a request answered with a non-2xx code is not recorded)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answer = 200
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with collector._lock:
                    collector._connections.add(self.connection)

            def finish(self) -> None:
                with collector._lock:
                    collector._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                code = collector.answer
                if 200 <= code < 300:
                    with collector._lock:
                        collector.received.append(
                            Received(
                                self.path, {k.lower(): v for k, v in self.headers.items()}, body
                            )
                        )
                reply = b"{}" if code < 300 else b"unavailable"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-collector")
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            with self._lock:  # kept-alive connections too: a stopped collector answers nothing
                for connection in self._connections:
                    with contextlib.suppress(OSError):
                        connection.shutdown(socket.SHUT_RDWR)
            self._server.server_close()
            self._thread.join()
            self._server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [r.body for r in self.received]

    def __enter__(self) -> HttpCollector:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
