"""Helpers for the hostile-input tests: a process's RSS, raw HTTP over TLS, auth-failure entries
on disk."""

from __future__ import annotations

import json
import socket
import sqlite3
import ssl
from pathlib import Path

__all__ = [
    "auth_failures",
    "open_raw",
    "raw_request",
    "reset_peak_rss",
    "rss_mib",
    "status_of",
    "write_config",
]

# What a TLS socket raises when the server closes it without a close_notify or resets it: for
# these tests the same as a plain socket's reset (the server ended the connection).
CLOSED_ERRORS = (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident set size of a process (or its peak since the last reset_peak_rss: VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for process {pid}")


def reset_peak_rss(pid: int) -> None:
    """Start VmHWM afresh from the current RSS (Linux 4.0+: "5" to /proc/<pid>/clear_refs), so
    that memory taken and given back during an attack is still seen."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def open_raw(server, timeout: float = 10.0, receive_buffer: int | None = None) -> socket.socket:
    """A connection to `server` (its `port`, and its `ssl_context` when it serves HTTPS) over
    which a test writes bytes as they are, through TLS as a browser's would go.
    `receive_buffer`: a small one makes a client that does not read hold the server back."""
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    if receive_buffer is not None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # before connect
    try:
        conn.connect(("127.0.0.1", server.port))
    except BaseException:
        conn.close()
        raise
    if server.ssl_context is None:
        return conn
    try:
        return server.ssl_context.wrap_socket(conn, server_hostname="127.0.0.1")
    except BaseException:
        conn.close()
        raise


def raw_request(server, data: bytes, timeout: float = 10.0) -> bytes:
    """Send bytes as they are (no client normalises the path) and read until the server closes
    or stops sending; the status line and headers are at the start of the answer."""
    with open_raw(server, timeout) as conn:
        if data:
            conn.sendall(data)
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and _complete(received):
                    break
        except (TimeoutError, *CLOSED_ERRORS):
            pass
        return received


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def status_of(answer: bytes) -> int:
    """The status code of a raw answer (0 when the server closed without answering)."""
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else 0


def auth_failures(data_dir: Path) -> list[tuple[str, dict]]:
    """(message, metadata) of every `auth.failed` entry in a stopped server's database; the
    metadata without the recorder's clock stamp (tests/activity/test_clock_honest.py pins it)."""
    uri = f"file:{data_dir / 'ledgrab.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        rows = conn.execute(
            "SELECT message, metadata FROM activity_log WHERE action = 'auth.failed' ORDER BY seq"
        ).fetchall()
    conn.close()
    found = [(message, json.loads(metadata)) for message, metadata in rows]
    for _message, metadata in found:
        metadata.pop("clock", None)
    return found


def write_config(path: Path, server: dict[str, object]) -> Path:
    """A TOML file with a [server] section, for `ledgrab serve` through LEDGRAB_CONFIG."""
    lines = ["[server]"]
    for key, value in server.items():
        lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path
