"""check_backup_file tells each kind of bad file apart, on real files, and accepts good ones."""

from __future__ import annotations

import sqlite3

import pytest

from ledgrab.core.backup.check import BackupRejected, check_backup_file, prepare_for_use
from ledgrab.storage.data_migrations import MIGRATIONS, Migration, latest_version
from tests.support.db_files import corrupt_pages, foreign_sqlite, make_ledgrab_db


@pytest.fixture
def good(tmp_path):
    return make_ledgrab_db(tmp_path / "good.db")


def _kind(path) -> tuple[str, str]:
    with pytest.raises(BackupRejected) as caught:
        check_backup_file(path)
    return caught.value.kind, str(caught.value)


def test_a_real_backup_is_accepted(good):
    info = check_backup_file(good)
    assert info.schema_version == latest_version()
    assert {"settings", "api_keys"} <= set(info.tables)
    assert info.size_bytes == good.stat().st_size


def test_empty_file(tmp_path):
    (tmp_path / "e.db").write_bytes(b"")
    assert _kind(tmp_path / "e.db")[0] == "empty"


def test_garbage_is_not_sqlite(tmp_path):
    (tmp_path / "g.db").write_bytes(b"PK\x03\x04 this is a zip, not a database" * 200)
    kind, message = _kind(tmp_path / "g.db")
    assert kind == "not_sqlite"
    assert "not an SQLite database" in message


@pytest.mark.parametrize("keep", [0.5, 0.25])
def test_truncated_on_a_page_boundary(good, tmp_path, keep):
    data = good.read_bytes()
    page = int.from_bytes(data[16:18], "big")
    cut = (int(len(data) * keep) // page) * page
    (tmp_path / "t.db").write_bytes(data[:cut])
    kind, message = _kind(tmp_path / "t.db")
    assert kind == "truncated"
    assert str(len(data)) in message and str(cut) in message


def test_truncated_mid_page_and_mid_header(good, tmp_path):
    data = good.read_bytes()
    (tmp_path / "m.db").write_bytes(data[: len(data) // 2 + 123])
    assert _kind(tmp_path / "m.db")[0] == "truncated"
    (tmp_path / "h.db").write_bytes(data[:40])
    assert _kind(tmp_path / "h.db")[0] == "truncated"


def test_corrupt_pages(good, tmp_path):
    kind, message = _kind(corrupt_pages(good, tmp_path / "c.db"))
    assert kind == "corrupt"
    assert "corrupt" in message


def test_another_programs_database(tmp_path):
    kind, message = _kind(foreign_sqlite(tmp_path / "photos.db"))
    assert kind == "not_ledgrab"
    assert "photos" in message and "another program" in message


def test_ledgrab_id_without_its_tables(tmp_path):
    conn = sqlite3.connect(tmp_path / "odd.db")
    conn.execute(f"PRAGMA application_id = {0x4C454447}")
    conn.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)")
    conn.commit()
    conn.close()
    kind, message = _kind(tmp_path / "odd.db")
    assert kind == "corrupt"
    assert "api_keys" in message


def test_newer_schema(good):
    conn = sqlite3.connect(good)
    conn.execute(f"PRAGMA user_version = {latest_version() + 5}")
    conn.close()
    kind, message = _kind(good)
    assert kind == "too_new"
    assert str(latest_version() + 5) in message and "update LedGrab" in message


def test_checking_writes_nothing(good):
    before = good.read_bytes()
    check_backup_file(good)
    assert good.read_bytes() == before
    assert sorted(p.name for p in good.parent.iterdir()) == ["good.db"]


def test_an_older_schema_is_migrated(tmp_path):
    old = make_ledgrab_db(tmp_path / "old.db")
    newer = Migration(
        latest_version() + 1,
        "test table",
        lambda conn: conn.execute("CREATE TABLE later (x INTEGER)"),
    )
    migrations = (*MIGRATIONS, newer)
    info = check_backup_file(old, migrations)
    assert info.schema_version == latest_version()
    assert prepare_for_use(old, migrations) == [newer.version]
    conn = sqlite3.connect(old)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == newer.version
    assert conn.execute("SELECT count(*) FROM settings").fetchone()[0] == 200
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


def test_broken_references(good):
    conn = sqlite3.connect(good)  # foreign keys are off on a plain connection: the damage goes in
    conn.execute(
        "INSERT INTO targets (id, device_id, source_id, config, created_at, updated_at) "
        "VALUES ('t_1', 'd_gone', 's_gone', '{}', '', '')"
    )
    conn.commit()
    conn.close()
    kind, message = _kind(good)
    assert kind == "corrupt"
    assert "targets" in message and "devices" in message
