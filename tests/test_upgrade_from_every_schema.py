"""A database from every earlier schema version, full of real data, upgrades with nothing lost:
keys still open the API, every entity loads, settings keep their values, the whole log is
there entry for entity and its hash chain verifies."""

import sqlite3
import subprocess
import sys

import httpx
import pytest

from ledgrab.storage.activity_chain import ENTRY_COLUMNS
from ledgrab.storage.data_migrations import latest_version
from tests.support.old_databases import build_old_database
from tests.support.process_server import ServeProcess

ENTRIES = 30_000


def _get(server, key, path):
    response = httpx.get(
        f"{server.base_url}{path}",
        headers={"Authorization": f"Bearer {key}"},
        verify=server.verify,
        timeout=30,
    )
    assert response.status_code == 200, (path, response.text)
    return response.json()


def _check_entity(kind, expected, got):
    assert got["name"] == expected["name"]
    if kind == "device" or kind == "target":
        assert {k: got[k] for k in expected} == expected
    elif expected["kind"] == "capture" and "fallback_kind" in expected["params"]:
        params = dict(expected["params"])  # migration 6: the two fields became one effect
        effect = {"kind": params.pop("fallback_kind"), "params": params.pop("fallback_params")}
        assert got["params"]["fallback_effect"] == effect
        assert {k: got["params"][k] for k in params} == params
    else:
        assert got["kind"] == expected["kind"]
        assert {k: got["params"][k] for k in expected["params"]} == expected["params"]


@pytest.mark.parametrize("version", range(1, latest_version()))
def test_a_database_of_an_earlier_schema_upgrades_with_everything_in_it(tmp_path, version):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    old = build_old_database(data_dir / "ledgrab.db", version, ENTRIES)

    server = ServeProcess(data_dir).start()
    try:
        assert not (data_dir / "initial-api-key").exists(), "the old keys count: no new admin"
        for key in old.keys.values():
            _get(server, key, "/health")
            listed = _get(server, key, "/api/v1/system/api-keys")
        assert {k["label"] for k in listed} >= set(old.keys)
        admin = old.keys["admin"]
        for kind, expected in old.entities.items():
            got = {e["id"]: e for e in _get(server, admin, f"/api/v1/{kind}s")}
            assert set(got) == set(expected), kind
            for entity_id, config in expected.items():
                _check_entity(kind, config, got[entity_id])
        if "activity_log" in old.settings:
            settings = _get(server, admin, "/api/v1/activity/settings")
            stored = old.settings["activity_log"]
            assert {k: settings[k] for k in stored} == stored
        if "backup.auto" in old.settings:
            backup = _get(server, admin, "/api/v1/system/backup/auto")["config"]
            assert backup == old.settings["backup.auto"]
        page = _get(server, admin, "/api/v1/activity?limit=1")
        assert page["total"] >= len(old.log)
    finally:
        server.terminate()

    conn = sqlite3.connect(data_dir / "ledgrab.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        kept = conn.execute(
            f"SELECT {ENTRY_COLUMNS} FROM activity_log WHERE seq <= ? ORDER BY seq", (len(old.log),)
        ).fetchall()
    finally:
        conn.close()
    assert kept == old.log, "every entry of the old log, in order, field for field"

    verify = subprocess.run(
        [sys.executable, "-m", "ledgrab", "verify", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
