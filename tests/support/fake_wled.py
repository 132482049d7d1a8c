"""A small fake WLED on 127.0.0.1: its JSON API (/json/info) in a thread, and, run as a
script, an mDNS advertiser process (`python -m tests.support.fake_wled --name N`)."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["AdvertiserProcess", "FakeWled"]

ROOT = Path(__file__).resolve().parents[2]


class FakeWled:
    """Answers GET /json/info like a WLED would; stop() and start() again on the same port."""

    def __init__(self, led_count: int = 30, name: str = "fake-wled", port: int = 0) -> None:
        self.led_count = led_count
        self.name = name
        self.port = port
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeWled:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                if self.path != "/json/info":
                    self.send_error(404)
                    return
                body = json.dumps(
                    {
                        "ver": "0.14.0",
                        "name": owner.name,
                        "mac": "aabbccddeeff",
                        "leds": {"count": owner.led_count, "rgbw": False},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-wled"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self) -> FakeWled:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AdvertiserProcess:
    """A separate process that announces `_wled._tcp` on loopback until withdraw() or stop()."""

    def __init__(self, name: str, port: int, mac: str = "aabbccddeeff") -> None:
        args = ["--name", name, "--port", str(port), "--mac", mac]
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.fake_wled", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def wait_line(self) -> str:
        assert self._proc.stdout is not None
        return self._proc.stdout.readline().strip()

    def withdraw(self) -> None:
        """Unregister the service (sends mDNS goodbyes) and wait until the process says so."""
        assert self._proc.stdin is not None
        self._proc.stdin.write("withdraw\n")
        self._proc.stdin.flush()
        line = self.wait_line()
        assert line == "withdrawn", line

    def stop(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def _advertise(name: str, port: int, mac: str) -> None:
    from zeroconf import ServiceInfo, Zeroconf

    zc = Zeroconf(interfaces=["127.0.0.1"])
    # A real WLED also announces _http._tcp; the watcher only browses _wled._tcp.
    info = ServiceInfo(
        "_wled._tcp.local.",
        f"{name}._wled._tcp.local.",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=port,
        properties={"mac": mac},
        server=f"{name}.local.",
    )
    try:
        zc.register_service(info)
        print("registered", flush=True)
        for line in sys.stdin:
            if line.strip() == "withdraw":
                zc.unregister_all_services()
                print("withdrawn", flush=True)
    finally:
        zc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mac", default="aabbccddeeff")
    args = parser.parse_args()
    _advertise(args.name, args.port, args.mac)
