"""Every file that holds key hashes, a private key or the audit trail is created 0600, whatever
the umask the service was started with: the database and its -wal/-shm, the lock, the activity
log's signing key, the TLS key (in a 0700 tls/), backups (API, CLI, auto), exports and the
pre-restore copy."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledgrab.storage.database import Database
from tests.support.cli import run_ledgrab
from tests.support.process_server import ServeProcess


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The umask a careless shell or service manager hands over: files 0644 unless we act."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _ledgrab(*args: str) -> None:
    result = run_ledgrab(*args)
    assert result.returncode == 0, result.stderr


def test_files_of_a_real_serve_backup_export_and_restore_are_private(tmp_path, permissive_umask):
    data, out = tmp_path / "data", tmp_path / "out"
    out.mkdir()
    auto = out / "auto"
    auto.mkdir()
    serve = ServeProcess(data).start()
    try:
        with httpx.Client(
            base_url=serve.base_url,
            headers={"Authorization": f"Bearer {serve.api_key}"},
            verify=serve.verify,
        ) as client:
            download = client.get("/api/v1/system/backup")
            assert download.status_code == 200
            put = client.put(
                "/api/v1/system/backup/auto", json={"enabled": False, "destination": str(auto)}
            )
            assert put.status_code == 200, put.text
            ran = client.post("/api/v1/system/backup/auto/run")
            assert ran.status_code in (200, 201), ran.text
        _ledgrab("backup", "--data-dir", str(data), f"{out}/cli/")
        _ledgrab("export", "--data-dir", str(data), "-o", str(out / "log.csv"))
        live = {p.name: _mode(p) for p in data.iterdir() if p.is_file()}
        tls = {p.name: _mode(p) for p in (data / "tls").iterdir()}
    finally:
        # uvicorn re-raises SIGTERM after its graceful shutdown.
        assert serve.terminate() in (0, -signal.SIGTERM)
    (cli_backup,) = (out / "cli").iterdir()
    _ledgrab("restore", "--data-dir", str(data), str(cli_backup))
    (auto_backup,) = [p for p in auto.rglob("*") if p.is_file()]
    (pre_restore,) = data.glob("*pre-restore*")

    assert {
        "ledgrab.db", "ledgrab.db-wal", "ledgrab.db-shm", "ledgrab.lock", "activity-key.pem"
    } <= live.keys()  # fmt: skip
    assert live == dict.fromkeys(live, 0o600)
    assert _mode(data / "tls") == 0o700
    # The certificate is public (every client receives it in the handshake); its key is not.
    assert tls == {"key.pem": 0o600, "cert.pem": 0o644}
    for path in (cli_backup, out / "log.csv", auto_backup, pre_restore, data / "ledgrab.db"):
        assert _mode(path) == 0o600, path
    assert _mode(out / "cli") == 0o700


def test_the_database_layer_itself_makes_private_files(tmp_path, permissive_umask):
    """Without the command line's umask (the app under another entry point): the database,
    its -wal/-shm and every snapshot (API download, auto-backup) are 0600; an older 0644 file is
    tightened when opened."""
    old = tmp_path / "old.db"
    old.touch(mode=0o644)
    os.chmod(old, 0o644)
    for path in (tmp_path / "new.db", old):
        db = Database(path)
        db.open()
        try:
            snapshot = db.backup_to_blocking(tmp_path / f"{path.stem}-copy.db")
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), snapshot]
            assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        finally:
            db.close()
