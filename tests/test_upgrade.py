"""ledgrab-update for real: wheels of this tree built under three versions (the last one broken so
that `ledgrab serve` never comes up), installed into a temporary prefix and served from it.

Only systemctl is replaced: the service is started and stopped by a small script that runs
`<prefix>/bin/ledgrab serve` as systemd would. The releases' dependencies come from this test's
environment (PYTHONPATH) instead of PyPI, so pip installs each wheel with --no-deps.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from ledgrab.core.tls.pinning import trusting_context
from tests.support.release_wheel import PROBE_VERSION, build_wheel

REPO = Path(__file__).parents[1]
GOOD_OLD, GOOD_NEW, BROKEN = "9.0.1", "9.0.2", "9.0.3"

SERVICE = """#!/bin/sh
# What systemctl start/stop does for ledgrab.service, for one process of this test.
set -eu
case "$1" in
start)
    "$PREFIX/bin/ledgrab" serve --host 127.0.0.1 --port "$PORT" >>"$SERVICE_LOG" 2>&1 &
    echo $! >"$PIDFILE" ;;
stop)
    [ -f "$PIDFILE" ] || exit 0
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid" 2>/dev/null || true
    # Until it is gone (or only a zombie waiting for its reaper): the data-dir lock is free then.
    while [ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
        sleep 0.2
    done
    rm -f "$PIDFILE" ;;
esac
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Board:
    """A prefix, a data directory and the service script: what ledgrab-update works on."""

    def __init__(self, root: Path) -> None:
        self.prefix, self.data_dir = root / "opt-ledgrab", root / "var-lib-ledgrab"
        self.port = free_port()
        self.service = root / "service.sh"
        self.service.write_text(SERVICE)
        self.service.chmod(0o755)
        self.env = {
            **os.environ,
            "PREFIX": str(self.prefix),
            "PORT": str(self.port),
            "PIDFILE": str(root / "ledgrab.pid"),
            "SERVICE_LOG": str(root / "service.log"),
            "LEDGRAB_DATA_DIR": str(self.data_dir),
            "LEDGRAB_DISCOVERY_ENABLED": "false",
            "LEDGRAB_HTTP_REDIRECT_PORT": "0",
            "PYTHONPATH": sysconfig.get_paths()["purelib"],
            "PIP_FIND_LINKS": "",
        }
        self.log = root / "service.log"

    def update(self, wheel: Path, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ledgrab.upgrade", str(wheel),
             "--prefix", str(self.prefix), "--data-dir", str(self.data_dir),
             "--health-url", f"https://127.0.0.1:{self.port}/health",
             "--timeout", str(timeout), "--python", sys.executable, "--pip-arg=--no-deps",
             "--stop-command", f"{self.service} stop", "--start-command", f"{self.service} start"],
            env=self.env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run([str(self.service), "stop"], env=self.env, check=True, timeout=60)

    def client(self) -> httpx.Client:
        key = (self.data_dir / "initial-api-key").read_text().strip()
        return httpx.Client(
            base_url=f"https://127.0.0.1:{self.port}",
            verify=trusting_context(self.data_dir / "tls" / "cert.pem"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )

    def release(self, link: str) -> str:
        return (self.prefix / link).resolve().name

    def upgrade_entries(self) -> list[tuple[str, dict]]:
        with sqlite3.connect(self.data_dir / "ledgrab.db") as conn:
            rows = conn.execute(
                "SELECT action, metadata FROM activity_log WHERE action LIKE 'upgrade.%' OR "
                "action = 'restore.completed' ORDER BY seq"
            ).fetchall()
        return [(action, json.loads(meta or "{}")) for action, meta in rows]

    def schema_version(self, path: Path | None = None) -> int:
        with sqlite3.connect(path or self.data_dir / "ledgrab.db") as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]

    def verify(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.prefix / "current" / "bin" / "ledgrab"), "verify",
             "--data-dir", str(self.data_dir)],
            env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip


@pytest.mark.slow
def test_upgrade_keeps_the_data_and_a_broken_version_is_rolled_back(tmp_path):
    wheels = tmp_path / "wheels"
    old = build_wheel(GOOD_OLD, wheels, tmp_path)
    new = build_wheel(GOOD_NEW, wheels, tmp_path)
    broken = build_wheel(BROKEN, wheels, tmp_path, broken=True)
    board = Board(tmp_path)
    try:
        first = board.update(old)
        assert first.returncode == 0, first.stdout + first.stderr + board.log.read_text()
        with board.client() as client:
            made = client.post(
                "/api/v1/devices", json={"name": "porch", "type": "virtual", "led_count": 30}
            )
            assert made.status_code == 201, made.text
            devices = client.get("/api/v1/devices").json()
        assert "porch" in [d["name"] for d in devices]

        up = board.update(new)
        assert up.returncode == 0, up.stdout + up.stderr + board.log.read_text()
        assert (board.release("current"), board.release("previous")) == (GOOD_NEW, GOOD_OLD)
        with board.client() as client:
            assert client.get("/health").json()["version"] == GOOD_NEW
            assert client.get("/api/v1/devices").json() == devices
        versions = {"from_version": GOOD_OLD, "to_version": GOOD_NEW}
        assert board.upgrade_entries() == [
            ("upgrade.started", versions),
            ("upgrade.completed", versions),
        ]
        backups = sorted((board.data_dir / "upgrade-backups").iterdir())
        assert [b.name.split("-before-")[0] for b in backups] == [f"ledgrab-{GOOD_OLD}"]

        down = board.update(broken, timeout=20)
        assert down.returncode == 1, down.stdout + down.stderr
        assert "rolling back" in down.stdout
        assert (board.release("current"), board.release("previous")) == (GOOD_NEW, GOOD_OLD)
        assert not (board.prefix / "releases" / BROKEN).exists()
        with board.client() as client:
            assert client.get("/health").json()["version"] == GOOD_NEW
            assert client.get("/api/v1/devices").json() == devices
        entries = board.upgrade_entries()
        tried = {"from_version": GOOD_NEW, "to_version": BROKEN}
        # The log is the backup's (taken after `started`), then the restore and the rollback.
        assert [action for action, _ in entries] == [
            "upgrade.started", "upgrade.completed", "upgrade.started",
            "restore.completed", "upgrade.rolled_back",
        ]  # fmt: skip
        assert entries[2][1] == tried
        rolled = entries[4][1]
        assert {k: rolled[k] for k in tried} == tried
        assert BROKEN in rolled["reason"]
        assert board.schema_version() < PROBE_VERSION, "the restored database is the old schema"
        aside = [
            p
            for p in board.data_dir.glob("ledgrab.db.pre-restore-*")
            if p.name[-4:] not in ("-wal", "-shm")
        ]
        assert len(aside) == 1, "the database the broken version migrated is kept beside"
        assert board.schema_version(aside[0]) == PROBE_VERSION
        check = board.verify()
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        board.stop()


def test_a_file_that_is_not_a_ledgrab_wheel_changes_nothing(tmp_path):
    board = Board(tmp_path)
    other = tmp_path / "requests-2.0-py3-none-any.whl"
    other.write_bytes(b"PK")
    result = board.update(other)
    assert result.returncode == 2
    assert "is not a ledgrab wheel" in result.stderr and "nothing was changed" in result.stderr
    assert not board.prefix.exists() and not board.data_dir.exists()


def test_the_updater_runs_without_any_dependency_installed():
    """Its first run is straight from the wheel, by a python3 that has none of LedGrab's
    dependencies: no site-packages at all here (-S)."""
    result = subprocess.run(
        [sys.executable, "-S", "-m", "ledgrab.upgrade", "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ledgrab-update" in result.stdout
