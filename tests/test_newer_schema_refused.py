"""A database from a newer LedGrab is refused with one line naming it, and left as it was: same
bytes (its -wal too), mtime and mode, nothing new beside it but SQLite's -shm index; at serve
start, by the key CLI and on restore."""

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys

from ledgrab.storage.data_migrations import latest_version, migrate

NEWER = latest_version() + 1


def _newer_database(path, *, hot_wal):
    """A file as a newer LedGrab leaves it: its own extra table, its version, and (hot_wal) its
    last commits still in the -wal, as after a power cut."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn)
    conn.execute("CREATE TABLE from_the_future (x)")
    if not hot_wal:
        conn.execute(f"PRAGMA user_version = {NEWER}")
        conn.close()
        return
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute(f"PRAGMA user_version = {NEWER}")
    conn.execute("INSERT INTO from_the_future VALUES ('only in the wal')")
    frozen = path.parent / "frozen"
    frozen.mkdir()
    for name in (path.name, path.name + "-wal"):
        shutil.copy2(path.parent / name, frozen / name)
    conn.close()
    for name in (path.name, path.name + "-wal"):
        os.replace(frozen / name, path.parent / name)
    frozen.rmdir()
    (path.parent / (path.name + "-shm")).unlink(missing_ok=True)


def _state(directory):
    """Every file's bytes, mtime and mode."""
    out = {}
    for entry in sorted(directory.iterdir()):
        if entry.is_file():
            st = entry.stat()
            digest = hashlib.sha256(entry.read_bytes()).hexdigest()
            out[entry.name] = (digest, st.st_mtime_ns, st.st_mode)
    return out


def _ledgrab(*args, data_dir, timeout=60):
    env = {
        **os.environ,
        "LEDGRAB_DATA_DIR": str(data_dir),
        "LEDGRAB_DISCOVERY_ENABLED": "false",
        "LEDGRAB_HTTP_REDIRECT_PORT": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "ledgrab", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _refusals(result):
    text = result.stdout + result.stderr
    assert "Traceback" not in text, text
    return [line for line in text.splitlines() if f"schema version {NEWER} is newer" in line]


def test_serve_refuses_a_newer_database_and_leaves_it_as_it_was(tmp_path):
    for hot_wal in (False, True):
        data_dir = tmp_path / f"data-{hot_wal}"
        data_dir.mkdir()
        db = data_dir / "ledgrab.db"
        _newer_database(db, hot_wal=hot_wal)
        before = _state(data_dir)

        result = _ledgrab("serve", "--host", "127.0.0.1", "--port", "0", data_dir=data_dir)

        assert result.returncode != 0
        lines = _refusals(result)
        assert len(lines) == 1 and str(db) in lines[0], result.stdout + result.stderr
        after = _state(data_dir)
        assert {name: after[name] for name in before} == before
        # Reading through a -wal needs SQLite's shared-memory index beside it; it holds no data.
        assert set(after) - set(before) <= {"ledgrab.db-shm", "ledgrab.lock"}


def test_the_key_cli_refuses_a_newer_database(tmp_path):
    db = tmp_path / "ledgrab.db"
    _newer_database(db, hot_wal=False)
    before = _state(tmp_path)

    result = _ledgrab("keys", "list", data_dir=tmp_path)

    assert result.returncode == 1
    assert len(_refusals(result)) == 1
    assert _state(tmp_path) == before


def test_restore_refuses_a_backup_from_a_newer_ledgrab(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    live = sqlite3.connect(data_dir / "ledgrab.db", isolation_level=None)
    migrate(live)
    live.execute("INSERT INTO settings VALUES ('mine', '1')")
    live.close()
    upload = tmp_path / "upload"
    upload.mkdir()
    _newer_database(upload / "newer.db", hot_wal=False)
    sqlite3.connect(upload / "newer.db").execute("PRAGMA journal_mode = DELETE").close()
    before_live, before_upload = _state(data_dir), _state(upload)

    result = _ledgrab("restore", str(upload / "newer.db"), data_dir=data_dir)

    assert result.returncode == 1
    text = (result.stdout + result.stderr).strip()
    assert text.count("\n") == 0 and "newer LedGrab" in text and f"{NEWER}" in text, text
    assert _state(upload) == before_upload
    live_after = _state(data_dir)
    assert {name: live_after[name] for name in before_live} == before_live
