"""A certificate the user brings (`[server] tls = "files"`): a key that does not match stops the
start with one line and exit 2; SIGHUP swaps in new files without stopping the LEDs; `tls = "off"`
is a warning entry at every start."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ledgrab.core.tls import certificate as certs
from ledgrab.core.tls.host_names import HostNames
from ledgrab.core.tls.pinning import fingerprint_of_pem, trusting_context
from tests.support.live_server import wait_for
from tests.support.process_server import ServeProcess


def _pair(directory: Path, name: str) -> tuple[Path, Path]:
    """A key and a certificate for 127.0.0.1, as a user's own CA or ACME client would give."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certs.make_self_signed(key, HostNames.of("user-box", []), dt.datetime.now(dt.UTC))
    key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_file, key_file


def _config(tmp_path: Path, cert: Path, key: Path) -> str:
    path = tmp_path / "ledgrab.toml"
    path.write_text(f'[server]\ntls = "files"\ncert_file = "{cert}"\nkey_file = "{key}"\n')
    return str(path)


def _serve(tmp_path: Path, config: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ledgrab", "serve", "--host", "127.0.0.1", "--port", "0"],
        env={
            **os.environ,
            "LEDGRAB_DATA_DIR": str(tmp_path / "data"),
            "LEDGRAB_CONFIG": str(config),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_key_that_is_not_the_certificates_stops_the_start_with_one_line(tmp_path):
    cert, _key = _pair(tmp_path, "one")
    _cert2, other_key = _pair(tmp_path, "two")
    result = _serve(tmp_path, _config(tmp_path, cert, other_key))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("ledgrab: TLS key_file")
    assert str(other_key) in result.stderr and str(cert) in result.stderr
    assert not (tmp_path / "data" / "ledgrab.db").exists(), "nothing started"


def test_an_unreadable_or_missing_key_file_is_named(tmp_path):
    cert, _key = _pair(tmp_path, "one")
    result = _serve(tmp_path, _config(tmp_path, cert, tmp_path / "nope.key"))
    assert result.returncode == 2
    assert result.stderr == f"ledgrab: TLS file {tmp_path / 'nope.key'} does not exist\n"


def test_sighup_reloads_the_files_without_stopping_the_leds(tmp_path):
    cert, key = _pair(tmp_path, "live")
    config = _config(tmp_path, cert, key)
    server = ServeProcess(tmp_path / "data", env={"LEDGRAB_CONFIG": config}, cert_file=cert)
    try:
        server.start()
        first = server.fingerprint
        headers = {"X-API-Key": server.api_key}
        with httpx.Client(base_url=server.base_url, headers=headers, verify=server.verify) as c:
            [target] = c.get("/api/v1/targets").json()
            state = f"/api/v1/targets/{target['id']}/state"
            before = wait_for(lambda: (s := c.get(state).json())["frames_sent"] > 0 and s)
            new_cert, new_key = _pair(tmp_path, "renewed")
            os.replace(new_cert, cert)
            os.replace(new_key, key)
            server.proc.send_signal(signal.SIGHUP)

            def swapped():
                health = httpx.get(
                    f"{server.base_url}/health", verify=trusting_context(cert)
                ).json()
                return health["components"]["tls"]["details"]["fingerprint_sha256"]

            second = wait_for(lambda: _quiet(swapped), what="the new certificate")
            assert second != first
            assert second == fingerprint_of_pem(cert.read_text())
            # The connection opened before the swap goes on; the strip never stopped (a restart
            # would have reset its frame count to 0).
            after = c.get(state).json()
            assert after["running"] and after["frames_sent"] >= before["frames_sent"]
        assert server.proc.poll() is None
        server.terminate()
    finally:
        server.kill()
    actions = _actions(tmp_path)
    assert "tls.reloaded" in actions


def test_a_bad_pair_on_sighup_keeps_the_certificate_served(tmp_path):
    cert, key = _pair(tmp_path, "live")
    server = ServeProcess(
        tmp_path / "data", env={"LEDGRAB_CONFIG": _config(tmp_path, cert, key)}, cert_file=cert
    )
    try:
        server.start()
        _other_cert, other_key = _pair(tmp_path, "other")
        os.replace(other_key, key)  # the key no longer matches the certificate
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any("Kept the previous TLS certificate" in ln for ln in server.lines))
        health = httpx.get(f"{server.base_url}/health", verify=server.verify)
        assert health.status_code == 200
        assert health.json()["components"]["tls"]["details"]["fingerprint_sha256"] == (
            server.fingerprint
        )
        server.terminate()
    finally:
        server.kill()
    assert "tls.reload_failed" in _actions(tmp_path)


def test_tls_off_is_a_warning_entry_at_every_start(tmp_path):
    for _ in range(2):
        server = ServeProcess(tmp_path / "data", env={"LEDGRAB_TLS": "off"})
        try:
            server.start()
            assert server.base_url.startswith("http://")
            assert "TLS is off" in server.lines[1]
            server.terminate()
        finally:
            server.kill()
    conn = sqlite3.connect(tmp_path / "data" / "ledgrab.db")
    rows = conn.execute(
        "SELECT severity FROM activity_log WHERE action = 'tls.disabled'"
    ).fetchall()
    conn.close()
    assert rows == [("warning",), ("warning",)]


def _actions(tmp_path: Path) -> list[str]:
    conn = sqlite3.connect(tmp_path / "data" / "ledgrab.db")
    try:
        return [a for (a,) in conn.execute("SELECT action FROM activity_log ORDER BY seq")]
    finally:
        conn.close()


def _quiet(probe):
    try:
        return probe()
    except httpx.HTTPError:
        return None
