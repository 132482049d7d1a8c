"""`ledgrab serve` as a child process on 127.0.0.1:0, its address read from its first line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.support.live_server import wait_for

__all__ = ["ServeProcess"]


class ServeProcess:
    """Start with start(); stdout lines are collected in `lines`; terminate() sends SIGTERM."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        # mDNS would browse (multicast) on every interface: a test server keeps it off, and on
        # loopback should a test turn it on.
        self.env = {
            **os.environ,
            "LEDGRAB_DATA_DIR": str(self.data_dir),
            "LEDGRAB_DISCOVERY_ENABLED": "false",
            "LEDGRAB_DISCOVERY_INTERFACES": "127.0.0.1",
            **(env or {}),
        }
        self.lines: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def start(self) -> ServeProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ledgrab", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name="serve-stdout", daemon=True)
        self._reader.start()
        first = wait_for(lambda: self.lines or self.proc.poll() is not None, what="first line")
        match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", self.lines[0] if first else "")
        if not match:
            self.kill()
            raise RuntimeError(f"server did not start: {self.lines}")
        self.base_url = match.group(1)
        wait_for(self._healthy, what="/health")
        return self

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200
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
