"""`ledgrab serve` as a child process on 127.0.0.1:0, its address read from its first line and
its certificate's fingerprint from the second; `ssl_context` trusts that certificate only, and
`verify` (httpx) is it, after checking the file's fingerprint is the one printed."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from ledgrab.core.tls.pinning import fingerprint_of_pem, trusting_context
from ledgrab.core.tls.service import CERT_FILE, TLS_DIR
from ledgrab.core.tls.serving import FINGERPRINT_LINE
from tests.support.live_server import wait_for
from tests.support.ws_tls import sync_websocket_context

__all__ = ["ServeProcess"]


class ServeProcess:
    """Start with start(); stdout lines are collected in `lines`; terminate() sends SIGTERM."""

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str] | None = None,
        cert_file: Path | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        # A command the server runs under (e.g. setpriv or prlimit: each execs the next).
        self.prefix = prefix or []
        # The certificate the server should present: its own unless a test gives it one.
        self.cert_file = cert_file or self.data_dir / TLS_DIR / CERT_FILE
        # mDNS would browse (multicast) on every interface: a test server keeps it off, and on
        # loopback should a test turn it on.
        self.env = {
            **os.environ,
            "LEDGRAB_DATA_DIR": str(self.data_dir),
            "LEDGRAB_DISCOVERY_ENABLED": "false",
            "LEDGRAB_DISCOVERY_INTERFACES": "127.0.0.1",
            "LEDGRAB_HTTP_REDIRECT_PORT": "0",
            **(env or {}),
        }
        self.lines: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.base_url = ""
        self.fingerprint: str | None = None
        self.ssl_context: ssl.SSLContext | None = None
        self.ws_ssl_context: ssl.SSLContext | None = None

    def start(self) -> ServeProcess:
        command = [sys.executable, "-m", "ledgrab", "serve", "--host", "127.0.0.1", "--port", "0"]
        self.proc = subprocess.Popen(
            [*self.prefix, *command],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name="serve-stdout", daemon=True)
        self._reader.start()
        two = wait_for(lambda: len(self.lines) >= 2 or self.proc.poll() is not None, what="lines")
        match = re.search(
            r"serving on (https?://127\.0\.0\.1:\d+)", self.lines[0] if two and self.lines else ""
        )
        if not match:
            self.kill()
            raise RuntimeError(f"server did not start: {self.lines}")
        self.base_url = match.group(1)
        if self.base_url.startswith("https:"):
            self._pin(self.lines[1])
        wait_for(self._healthy, what="/health")
        return self

    def _pin(self, line: str) -> None:
        if not line.startswith(FINGERPRINT_LINE):
            self.kill()
            raise RuntimeError(f"no fingerprint on the second line: {self.lines}")
        self.fingerprint = line.removeprefix(FINGERPRINT_LINE).strip()
        cert = self.cert_file
        if fingerprint_of_pem(cert.read_text()) != self.fingerprint:
            self.kill()
            raise RuntimeError(f"{cert} is not the certificate whose fingerprint was printed")
        self.ssl_context = trusting_context(cert)
        self.ws_ssl_context = sync_websocket_context(cert)  # websockets' sync client (ws_tls.py)

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify=` for this server."""
        return self.ssl_context or True

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/api/v1/events/ws"

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _healthy(self) -> bool:
        try:
            response = httpx.get(f"{self.base_url}/health", timeout=2, verify=self.verify)
            return response.status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def api_key(self) -> str:
        return (self.data_dir / "initial-api-key").read_text().strip()

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._close()
        return code

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._close()

    def _close(self) -> None:
        if self.proc:
            self._reader.join(30)
            if self.proc.stdout:
                self.proc.stdout.close()
