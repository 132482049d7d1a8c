"""Migrations run in order, once, record the version, and roll back completely when one fails."""

import json
import sqlite3

import pytest

from ledgrab.storage.data_migrations import (
    APPLICATION_ID,
    MIGRATIONS,
    Migration,
    SchemaTooNewError,
    latest_version,
    migrate,
    run_script,
    schema_version,
)


def connect(path):
    return sqlite3.connect(path, isolation_level=None)


def test_fresh_file_gets_every_migration_once(tmp_path):
    conn = connect(tmp_path / "db")
    assert migrate(conn) == [m.version for m in MIGRATIONS]
    assert schema_version(conn) == latest_version()
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert migrate(conn) == [], "a second run applies nothing"
    conn.close()


def test_migrations_apply_in_version_order(tmp_path):
    order = []
    steps = [
        Migration(2, "second", lambda c: order.append(2)),
        Migration(1, "first", lambda c: order.append(1)),
        Migration(3, "third", lambda c: order.append(3)),
    ]
    conn = connect(tmp_path / "db")
    assert migrate(conn, steps) == [1, 2, 3]
    assert order == [1, 2, 3]
    conn.close()


def test_failing_migration_leaves_file_as_it_was(tmp_path):
    path = tmp_path / "db"
    conn = connect(path)
    migrate(conn, MIGRATIONS)
    conn.close()
    before = path.read_bytes()

    def half_done(c):
        run_script(c, "CREATE TABLE half (x INTEGER); INSERT INTO half VALUES (1);")
        raise RuntimeError("boom in the middle")

    bad = (*MIGRATIONS, Migration(latest_version() + 1, "broken", half_done))
    conn = connect(path)
    with pytest.raises(RuntimeError, match="boom"):
        migrate(conn, bad)
    assert schema_version(conn) == latest_version()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half" not in tables
    conn.close()
    assert path.read_bytes() == before


def test_newer_schema_is_refused(tmp_path):
    conn = connect(tmp_path / "db")
    conn.execute(f"PRAGMA user_version = {latest_version() + 5}")
    with pytest.raises(SchemaTooNewError, match="newer"):
        migrate(conn)
    conn.close()


def test_run_script_refuses_a_dangling_statement(tmp_path):
    conn = connect(tmp_path / "db")
    with pytest.raises(ValueError, match="incomplete"):
        run_script(conn, "CREATE TABLE t (x); CREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1")
    conn.close()


def test_run_script_keeps_semicolons_inside_literals(tmp_path):
    conn = connect(tmp_path / "db")
    run_script(conn, "CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a;b');\nSELECT 1")
    assert conn.execute("SELECT x FROM t").fetchall() == [("a;b",)]
    conn.close()


def test_a_capture_source_of_the_old_shape_loads_after_the_upgrade(tmp_path):
    """Version 5 stored a capture source's fallback as fallback_kind + fallback_params."""
    import msgspec

    from ledgrab.models.sources import SourceConfig

    conn = connect(tmp_path / "db")
    migrate(conn, [m for m in MIGRATIONS if m.version <= 5])
    old = {
        "kind": "capture",
        "name": "TV",
        "params": {
            "protocol": "ddp",
            "fallback": "effect",
            "fallback_kind": "breathing",
            "fallback_params": {"color": "#ff8800"},
        },
    }
    stamp = "2026-01-01T00:00:00+00:00"
    conn.execute(
        "INSERT INTO sources VALUES (?, ?, ?, ?)", ("src_1", json.dumps(old), stamp, stamp)
    )
    assert 6 in migrate(conn)
    (text,) = conn.execute("SELECT config FROM sources WHERE id = 'src_1'").fetchone()
    conn.close()
    config = msgspec.json.decode(text, type=SourceConfig)
    assert config.name == "TV"
    effect = msgspec.to_builtins(config.params.fallback_effect)
    assert effect["kind"] == "breathing" and effect["params"]["color"] == "#ff8800"
    assert "fallback_kind" not in json.loads(text)["params"]
