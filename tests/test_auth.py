"""Every /api/v1 route needs a key; keys are hashed, shown once, listed without secrets."""

import os
import sqlite3
import stat

import httpx
import pytest

from ledgrab.app import DATABASE_FILE
from ledgrab.storage.api_keys import INITIAL_KEY_FILE
from tests.support.live_server import LiveServer

UNAUTHORIZED = {"status_code": 401, "detail": "Missing or invalid API key"}


def api_routes(server):
    schema = httpx.get(f"{server.base_url}/schema/openapi.json", verify=server.verify).json()
    for path, operations in schema["paths"].items():
        for method in operations:
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method.upper(), path


def test_every_api_route_in_the_schema_refuses_without_a_key(tmp_path):
    # Two refusals per route from one address, all answered at once: past the free ones they
    # would be held late (tests/hostile/test_refused_keys_held.py).
    with LiveServer(tmp_path / "data", auth={"over_budget_delay_s": 0}) as server:
        routes = [(m, p) for m, p in api_routes(server) if p.startswith("/api/v1")]
        assert routes, "the schema lists no /api/v1 routes"
        with server.client(key=None) as anonymous, server.client(key="lg_wrong") as wrong:
            for method, path in routes:
                concrete = path.replace("{", "").replace("}", "")
                for client in (anonymous, wrong):
                    response = client.request(method, concrete, json={})
                    assert response.status_code == 401, (method, path, response.text)
                    assert response.json() == UNAUTHORIZED


def test_public_routes_are_only_health_and_schema(server):
    public = {p for _m, p in api_routes(server) if not p.startswith("/api/v1")}
    assert public <= {"/health"}


def test_bearer_and_x_api_key_headers_both_work(server):
    key = server.api_key
    assert httpx.get(
        f"{server.base_url}/api/v1/system/api-keys",
        headers={"X-API-Key": key},
        verify=server.verify,
    ).is_success
    with server.client() as client:
        assert client.get("/api/v1/system/api-keys").is_success


def test_bootstrap_key_file_is_private_and_only_its_hash_is_stored(server):
    key_file = server.data_dir / INITIAL_KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    key = key_file.read_text().strip()
    raw = (server.data_dir / DATABASE_FILE).read_bytes()
    wal = server.data_dir / f"{DATABASE_FILE}-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert key.encode() not in raw


def test_create_shows_the_key_once_and_it_works(server):
    with server.client() as client:
        created = client.post("/api/v1/system/api-keys", json={"label": "kitchen-tablet"})
        assert created.status_code == 201
        new_key = created.json()["key"]
        listed = client.get("/api/v1/system/api-keys").json()
    assert {k["label"] for k in listed} == {"admin", "kitchen-tablet"}
    assert all(new_key not in str(entry) for entry in listed)
    with server.client(key=new_key) as tablet:
        assert tablet.get("/api/v1/system/api-keys").is_success


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"label": "has space"}, 400, "label"),
        ({"label": ""}, 400, "label"),
        ({"name": "x"}, 400, "name is not a field here"),
        ({"label": "admin"}, 409, "already exists"),
    ],
)
def test_bad_create_requests_change_nothing(server, body, status, fragment):
    with server.client() as client:
        response = client.post("/api/v1/system/api-keys", json=body)
        assert response.status_code == status
        assert fragment in response.text
        assert [k["label"] for k in client.get("/api/v1/system/api-keys").json()] == ["admin"]


def test_revoked_key_stops_working_and_the_last_key_cannot_be_revoked(server):
    with server.client() as admin:
        other = admin.post("/api/v1/system/api-keys", json={"label": "phone"}).json()["key"]
        with server.client(key=other) as phone:
            assert phone.delete("/api/v1/system/api-keys/admin").status_code == 204
            assert admin.get("/api/v1/system/api-keys").status_code == 401
            last = phone.delete("/api/v1/system/api-keys/phone")
            assert last.status_code == 409
            assert "last API key" in last.json()["detail"]
            assert phone.delete("/api/v1/system/api-keys/nobody").status_code == 404


def test_configured_keys_replace_the_bootstrap_and_cannot_be_revoked(tmp_path):
    key = "0123456789abcdef-configured"
    with LiveServer(tmp_path / "d", environ={"LEDGRAB_API_KEYS": f"ops:{key}"}) as live:
        assert not (tmp_path / "d" / INITIAL_KEY_FILE).exists()
        with live.client(key=key) as client:
            response = client.delete("/api/v1/system/api-keys/ops")
            assert response.status_code == 409
            assert client.get("/api/v1/system/api-keys").json()[0]["source"] == "config"


def test_cli_created_key_works_on_a_running_server(server):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "ledgrab", "keys", "create", "cli-made"],
        env={**os.environ, "LEDGRAB_DATA_DIR": str(server.data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    with server.client(key=result.stdout.strip()) as client:
        assert client.get("/api/v1/system/api-keys").is_success
    conn = sqlite3.connect(server.data_dir / DATABASE_FILE)
    assert ("cli-made",) in conn.execute("SELECT label FROM api_keys").fetchall()
    conn.close()


def test_auth_disabled_lets_requests_through(tmp_path):
    with LiveServer(tmp_path / "d", environ={"LEDGRAB_AUTH_ENABLED": "false"}) as live:
        with live.client(key=None) as client:
            assert client.get("/api/v1/system/api-keys").is_success
        assert not (tmp_path / "d" / INITIAL_KEY_FILE).exists()
