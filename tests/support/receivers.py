"""Loopback receivers for driver tests: a UDP socket that collects datagrams, a fake WLED HTTP
API, and an Adalight/AWA serial emulator on a pty pair that parses frames back."""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FakeWled", "SerialEmulator", "StampedUdpReceiver", "UdpReceiver"]


class UdpReceiver:
    """A bound UDP socket on 127.0.0.1; `take()` returns datagrams that arrived."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def take(self, count: int, timeout: float = 10.0) -> list[bytes]:
        self.sock.settimeout(timeout)
        return [self.sock.recv(65535) for _ in range(count)]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> UdpReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StampedUdpReceiver(UdpReceiver):
    """A receiver that notes when (time.monotonic()) each datagram was read, on its own thread."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[bytes, float]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        self.sock.settimeout(0.2)
        while self.sock.fileno() >= 0:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.arrivals.append((data, time.monotonic()))

    def close(self) -> None:
        self.sock.close()
        self._thread.join()


class FakeWled:
    """Answers GET /json/info with `info` and records the bodies POSTed to /json/state."""

    def __init__(self, info: dict) -> None:
        self.info = info
        self.state_posts: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(owner.info).encode() if self.path == "/json/info" else b"{}"
                self.send_response(200 if self.path == "/json/info" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                owner.state_posts.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fake-wled")

    def __enter__(self) -> FakeWled:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()


def _fletcher(data: bytes) -> bytes:
    # Written from the HyperSerial description, independently of the driver's loop.
    a = b = 0
    ext = 0
    for i in range(len(data)):
        a = (a + data[i]) % 255
        b = (b + a) % 255
        ext = (ext + (data[i] ^ (i % 256))) % 255
    return bytes([a, b, 0xAA if ext == 0x41 else ext])


class SerialEmulator:
    """The controller end of a pty pair: parses Ada/Awa frames into `frames` (a bounded list)."""

    def __init__(self, max_frames: int = 1000) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.frames: list[tuple[str, bytes]] = []
        self.bad_frames = 0
        self._max = max_frames
        self._buffer = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="serial-emulator")

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self._buffer += os.read(self.master, 65536)
                except OSError:
                    return
                self._parse()

    def _parse(self) -> None:
        buf = self._buffer
        while True:
            starts = [i for i in (buf.find(b"Ada"), buf.find(b"Awa")) if i >= 0]
            if not starts:
                del buf[: max(0, len(buf) - 2)]
                return
            start = min(starts)
            del buf[:start]
            if len(buf) < 6:
                return
            hi, lo, check = buf[3], buf[4], buf[5]
            if hi ^ lo ^ 0x55 != check:
                self.bad_frames += 1
                del buf[:1]
                continue
            count = (hi << 8 | lo) + 1
            awa = buf[:3] == b"Awa"
            size = 6 + count * 3 + (3 if awa else 0)
            if len(buf) < size:
                return
            data = bytes(buf[6 : 6 + count * 3])
            if awa and bytes(buf[6 + count * 3 : size]) != _fletcher(data):
                self.bad_frames += 1
            elif len(self.frames) < self._max:
                self.frames.append(("awa" if awa else "ada", data))
            del buf[:size]

    def __enter__(self) -> SerialEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self.slave)
