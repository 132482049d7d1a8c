"""The real app under uvicorn on 127.0.0.1 (port 0, read back), in a thread of the test process.

HTTPS by default, as on the device: the server makes its certificate in `data_dir`, and
`ssl_context` trusts exactly that certificate. `client()` uses it; a test that opens its own
connection passes it: `httpx.get(url, verify=server.ssl_context)`,
`websockets.sync.client.connect(server.ws_url, ssl=server.ws_ssl_context)`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import uvicorn

from ledgrab.app import create_app
from ledgrab.config import Settings, load_settings
from ledgrab.core.tls.pinning import trusting_context
from ledgrab.core.tls.serving import Server, prepare_tls
from ledgrab.server_limits import uvicorn_config
from ledgrab.storage.api_keys import INITIAL_KEY_FILE
from tests.support.ws_tls import sync_websocket_context

__all__ = ["LiveServer", "until", "wait_for"]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.02, what: str = "condition"):
    """Poll until predicate() is truthy; a readiness wait, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


async def until(predicate, what: str, timeout: float = 10.0) -> None:
    """wait_for() on an event loop: sleeps between polls so the loop's callbacks run."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class LiveServer:
    """start() serves the app; stop() runs the lifespan shutdown. Also a context manager."""

    def __init__(self, data_dir: Path, environ: dict[str, str] | None = None, **overrides: Any):
        self.data_dir = Path(data_dir)
        env = {"LEDGRAB_DATA_DIR": str(self.data_dir), **(environ or {})}
        # Nothing a test starts may touch the LAN: mDNS is off unless a test turns it on, and
        # then on loopback only; capture sockets bind and join multicast on loopback.
        overrides["discovery"] = {
            "enabled": False,
            "interfaces": ["127.0.0.1"],
            **overrides.get("discovery", {}),
        }
        # Device checks would resolve names and call devices that other tests create; a test
        # that wants them turns them on with loopback devices only.
        overrides["health"] = {"enabled": False, **overrides.get("health", {})}
        overrides["capture"] = {
            "bind_host": "127.0.0.1",
            "multicast_interface": "127.0.0.1",
            **overrides.get("capture", {}),
        }
        # The plain-HTTP redirect port on any free port (read back as `http_url`).
        overrides["server"] = {"http_redirect_port": 0, **overrides.get("server", {})}
        self.settings: Settings = load_settings(
            overrides={"host": "127.0.0.1", "port": 0, **overrides}, environ=env
        )
        self.tls = prepare_tls(self.settings)
        self.app = create_app(self.settings, self.tls)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"{self.tls.scheme}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.tls.enabled else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/api/v1/events/ws"

    @property
    def http_url(self) -> str:
        """The plain-HTTP port, which only redirects to `base_url`."""
        port = self.tls.redirect_port
        if port is None:
            raise AssertionError("this server has no plain-HTTP redirect port")
        return f"http://127.0.0.1:{port}"

    @property
    def fingerprint(self) -> str | None:
        return self.tls.fingerprint

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """Trusts this server's certificate only (None when TLS is off); pass it as httpx's
        `verify=` or websockets' `ssl=`."""
        return trusting_context(self.tls.cert_path) if self.tls.enabled else None

    @property
    def ws_ssl_context(self) -> ssl.SSLContext | None:
        """For websockets' sync client (`ssl=`): see tests/support/ws_tls.py."""
        return sync_websocket_context(self.tls.cert_path) if self.tls.enabled else None

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify=` for this server."""
        return self.ssl_context or True

    @property
    def api_key(self) -> str:
        return (self.data_dir / INITIAL_KEY_FILE).read_text().strip()

    def client(self, key: str | None = "default", **kwargs: Any) -> httpx.Client:
        headers = {}
        if key == "default":
            key = self.api_key if self.settings.auth.enabled else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        kwargs.setdefault("verify", self.verify)
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)

    def start(self, port: int = 0) -> LiveServer:
        """Serve on `port` (0: any free one); a fixed port lets a test restart "the same" server."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        # The bound port, as `ledgrab serve` does: the log and the HTTPS redirect name it.
        self.app.state.settings = msgspec.structs.replace(self.settings, port=self.port)
        # The limits `ledgrab serve` runs with, so that tests meet the server users meet.
        config = uvicorn_config(
            self.app,
            self.settings.server,
            log_config=None,
            lifespan="on",
            access_log=False,
            **self.tls.uvicorn_options(),
        )
        self._server = Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="test-uvicorn"
        )
        self._thread.start()
        server = self._server
        wait_for(lambda: server.started or not self._thread.is_alive(), what="server start")
        if not server.started:
            self._thread.join()
            sock.close()  # uvicorn leaves a socket it was handed open when startup fails
            raise RuntimeError("the server failed to start; see the log above")
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(30)
        if self._thread.is_alive():
            raise AssertionError("the server did not shut down within 30 s")
        self._server = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
