"""`ledgrab serve` as systemd runs it: READY and watchdog pings, SIGTERM shutdown, one-line logs."""

import signal
import socket
import sqlite3

import httpx

from tests.support.process_server import ServeProcess


def test_notify_ready_watchdog_and_clean_sigterm(tmp_path):
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(20)
    messages: list[str] = []
    server = ServeProcess(
        tmp_path / "data", env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"}
    )
    try:
        server.start()
        while "WATCHDOG=1" not in messages or messages.count("WATCHDOG=1") < 2:
            messages.append(sock.recv(256).decode())
        assert messages[0] == "READY=1"
        code = server.terminate()
        sock.settimeout(1)
        while "STOPPING=1" not in messages:
            messages.append(sock.recv(256).decode())
    finally:
        server.kill()
        sock.close()
    # uvicorn re-raises SIGTERM after its graceful shutdown; systemd counts that as a clean stop.
    assert code in (0, -signal.SIGTERM)
    assert "READY=1" in messages
    assert any("shutting down" in line for line in server.lines)
    assert any("Application shutdown complete" in line for line in server.lines)


def test_logs_are_one_line_per_event_and_never_carry_the_key(tmp_path):
    server = ServeProcess(tmp_path / "data").start()
    try:
        key = server.api_key
        # A label with a newline cannot forge a second log line (the request is refused anyway).
        httpx.post(
            f"{server.base_url}/api/v1/system/api-keys",
            json={"label": "evil\nINFO ledgrab: forged"},
            headers={"Authorization": f"Bearer {key}"},
            verify=server.verify,
        )
        server.terminate()
    finally:
        server.kill()
    assert (
        server.lines[0].startswith("LedGrab ")
        and "serving on https://127.0.0.1:" in server.lines[0]
    )
    assert not any(key in line for line in server.lines)
    assert not any(line.startswith("INFO ledgrab: forged") for line in server.lines)
    assert any("initial-api-key" in line for line in server.lines), "the log says where the key is"
    port = server.base_url.rsplit(":", 1)[1]
    conn = sqlite3.connect(tmp_path / "data" / "ledgrab.db")
    (started,) = conn.execute(
        "SELECT message FROM activity_log WHERE action = 'server.started'"
    ).fetchone()
    conn.close()
    assert started.endswith(f":{port}"), "the log names the bound port, not the 0 asked for"


def test_port_in_use_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ledgrab", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={"LEDGRAB_DATA_DIR": str(tmp_path / "d"), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        taken.close()
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
