"""A full, read-only, locked or closed card is not a corrupt database: nothing is set aside."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.support.db_files import activity_rows, live_bytes
from tests.support.live_server import LiveServer
from tests.support.mount_ns import ROOT, require_namespaces, run_probe

ACK = "/api/v1/system/database/recovery/ack"


def _no_file_set_aside(data_dir) -> bool:
    return not [p for p in data_dir.iterdir() if ".corrupt-" in p.name or ".foreign-" in p.name]


@pytest.mark.parametrize("fault", ["full_at_start", "read_only_at_start"])
def test_a_server_started_on_a_bad_card_stops_with_one_line_and_keeps_the_file(tmp_path, fault):
    result = run_probe("tests.hostile.card_probe", fault, str(tmp_path))
    failed = result["failed"]
    assert failed["code"] != 0
    # The healthy file is neither moved aside nor replaced by a fresh one.
    assert not [f for f in result["files"] if ".corrupt-" in f], result["files"]
    assert result["db_unchanged"]
    reasons = [line for line in failed["output"] if "cannot open the database" in line]
    assert len(reasons) == 1, failed["output"]
    expected = "the card is full" if fault == "full_at_start" else "the card is read-only"
    assert expected in reasons[0] and "Nothing was changed" in reasons[0]
    assert not [line for line in failed["output"] if "Traceback" in line]
    # With the cause gone, the next start has everything.
    assert "kept-strip" in result["devices_after_restart"]
    assert not [f for f in result["files_after_restart"] if ".corrupt-" in f]


@pytest.mark.parametrize("missing", ["tls", "tls/cert.pem"])
@pytest.mark.parametrize("fault", ["full_at_start", "read_only_at_start"])
def test_a_certificate_that_cannot_be_written_stops_the_start_with_one_line(
    tmp_path, fault, missing
):
    """HTTPS is on by default: a start that must write its key or certificate on a bad card
    says so in one line naming the file and the reason, leaves no half-written file and the
    database untouched; with the cause gone the next start makes them."""
    result = run_probe("tests.hostile.card_probe", fault, str(tmp_path), missing)
    failed = result["failed"]
    assert failed["code"] == 2, failed
    tls_dir = tmp_path / "card" / "data" / "tls"
    reasons = [line for line in failed["output"] if "TLS" in line]
    assert len(reasons) == 1, failed["output"]
    (reason,) = reasons
    expected = "the card is full" if fault == "full_at_start" else "the card is read-only"
    named = tls_dir / ("key.pem" if missing == "tls" else "cert.pem")
    assert str(named) in reason and expected in reason and "Nothing was changed" in reason
    assert not [line for line in failed["output"] if "Traceback" in line]
    assert result["db_unchanged"]
    assert result["tls_files"] == (None if missing == "tls" else ["key.pem"])
    assert not [f for f in result["files"] if ".corrupt-" in f or f.endswith(".tmp")]
    assert "kept-strip" in result["devices_after_restart"]
    assert result["tls_files_after_restart"] == ["cert.pem", "key.pem"]


def test_a_card_that_fills_while_running_answers_507_and_recovers(tmp_path):
    result = run_probe("tests.hostile.card_probe", "full_while_running", str(tmp_path))
    for status, detail in [*result["writes"], result["backup"]]:
        assert status == 507
        assert "the card is full" in detail and "nothing was changed" in detail
    assert result["work_dir"] == []  # no half-made snapshot left on the full card
    assert result["health_full"]["state"] == "degraded"
    assert "the card is full" in result["health_full"]["reason"]
    assert len(result["episode_logs"]) == 1, result["episode_logs"]  # once per episode
    assert result["ok_without_entity_write"]  # any commit ends the episode
    assert result["after"] == 201
    assert result["devices"] == ["Virtual strip", "after", "before"]  # nothing half-written


def test_a_refused_key_operation_does_not_mark_the_database_degraded(server):
    with server.client() as client:
        assert client.delete("/api/v1/system/api-keys/nobody").status_code == 404
        assert client.post("/api/v1/system/api-keys", json={"label": "admin"}).status_code == 409
        assert client.delete("/api/v1/system/api-keys/admin").status_code == 409
        database = client.get("/health").json()["components"]["database"]
    assert database["state"] == "ok", database


def _stopped_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    with LiveServer(data_dir) as live, live.client() as client:
        assert client.post("/api/v1/system/api-keys", json={"label": "kept"}).status_code == 201
    return data_dir


def _failed_serve(data_dir, *wrapper: str) -> str:
    """`ledgrab serve` that must fail to start; the one line naming the reason."""
    env = {**os.environ, "LEDGRAB_DATA_DIR": str(data_dir), "LEDGRAB_DISCOVERY_ENABLED": "false"}
    serve = [sys.executable, "-m", "ledgrab", "serve", "--host", "127.0.0.1", "--port", "0"]
    done = subprocess.run(
        [*wrapper, *serve], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0, done.stdout
    (reason,) = [line for line in done.stdout.splitlines() if "cannot open the database" in line]
    return reason


def test_a_file_locked_by_another_program_is_left_alone(tmp_path):
    data_dir = _stopped_data_dir(tmp_path)
    before = live_bytes(data_dir)
    holder = sqlite3.connect(data_dir / "ledgrab.db", isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        reason = _failed_serve(data_dir)
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    assert "another program holds the database locked" in reason
    assert live_bytes(data_dir) == before
    assert _no_file_set_aside(data_dir)
    with LiveServer(data_dir) as live, live.client() as client:
        labels = sorted(k["label"] for k in client.get("/api/v1/system/api-keys").json())
    assert labels == ["admin", "kept"]


def test_a_file_this_user_may_not_open_is_left_alone(tmp_path):
    """The file belongs to a user the namespace does not map: its root may not read it."""
    require_namespaces()
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file to another user")
    data_dir = _stopped_data_dir(tmp_path)
    db = data_dir / "ledgrab.db"
    os.chown(db, 12345, 12345)
    os.chmod(db, 0o600)
    before = db.read_bytes()
    try:
        env = {
            **os.environ,
            "LEDGRAB_DATA_DIR": str(data_dir),
            "LEDGRAB_DISCOVERY_ENABLED": "false",
        }
        serve = [sys.executable, "-m", "ledgrab", "serve", "--host", "127.0.0.1", "--port", "0"]
        done = subprocess.run(
            ["unshare", "-r", *serve], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
    finally:
        os.chown(db, 0, 0)
    # The data-directory check before listening meets the file first: one line, exit 2.
    assert done.returncode == 2
    (reason,) = done.stderr.strip().splitlines()
    assert str(db) in reason and "cannot be opened: Permission denied" in reason
    assert db.read_bytes() == before
    assert _no_file_set_aside(data_dir)


def test_a_corrupt_file_is_the_first_entry_of_the_new_log_until_acknowledged(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "ledgrab.db").write_bytes(b"\x00\xff" * 8192)
    with LiveServer(data_dir) as live, live.client() as client:
        (aside,) = data_dir.glob("ledgrab.db.corrupt-*")
        first = activity_rows(live.app.state.db)[0]
        assert first[1:4] == ("database.quarantined", "critical", "system")
        assert aside.name in first[4]
        recovery = client.get("/health").json()["components"]["database_recovery"]
        assert recovery["state"] == "degraded" and aside.name in recovery["reason"]
        assert client.post(ACK).status_code == 200
        assert client.get("/health").json()["status"] == "ok"
