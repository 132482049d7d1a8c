"""GET|PUT /api/v1/activity/forwarders: strict validation (400 naming the field, nothing
changed), write-only secrets, each change an `entity` entry, status on /health."""

from __future__ import annotations

import copy
import logging

import pytest

from ledgrab.config import ConfigError, load_settings
from tests.forwarding.helpers import TLS_FORWARDER, fast_server, put_forwarders, stored
from tests.support.http_collector import HttpCollector

HOOK_SECRET = "hook-secret-0123456789"
TOKEN = "Bearer otlp-token-abcdef"


def _all(collector_port: int) -> list[dict]:
    return [
        {
            "name": "hook",
            "target": {
                "kind": "webhook",
                "url": f"http://127.0.0.1:{collector_port}/h",
                "secret": HOOK_SECRET,
            },
        },
        {
            "name": "otel",
            "enabled": False,
            "target": {
                "kind": "otlp",
                "url": f"http://127.0.0.1:{collector_port}/v1/logs",
                "headers": {"Authorization": TOKEN},
            },
        },
        copy.deepcopy(TLS_FORWARDER),
    ]


def _configs(client) -> list[dict]:
    return [f["config"] for f in client.get("/api/v1/activity/forwarders").json()["forwarders"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"target": {"kind": "syslog", "host": "127.0.0.1", "port": 0}},
            "$.forwarders[0].target.port",
        ),
        ({"target": {"kind": "syslog", "host": "h", "facility": "local9"}}, "target.facility"),
        ({"target": {"kind": "syslog", "host": "h", "transport": "tls"}}, "target.ca_pem"),
        ({"target": {"kind": "carrier-pigeon"}}, "$.forwarders[0].target"),
        ({"target": {"kind": "otlp", "url": "ftp://x/v1/logs"}}, "target.url"),
        ({"target": {"kind": "otlp", "url": "http://u:p@x/v1/logs"}}, "target.url"),
        ({"target": {"kind": "webhook", "url": "http://x/", "secret": "short"}}, "target.secret"),
        ({"name": "Bad Name"}, "$.forwarders[0].name"),
        ({"filters": {"categories": ["nope"]}}, "filters.categories"),
        ({"filters": {"colour": "red"}}, "colour"),
        ({"min_severity": "loud"}, "min_severity"),
        ({"batch_size": 5000}, "batch_size"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(server, change, field):
    good = {"name": "s", "target": {"kind": "syslog", "host": "127.0.0.1"}}
    with server.client() as client:
        put_forwarders(client, [good])
        before = _configs(client)
        response = client.put(
            "/api/v1/activity/forwarders", json={"forwarders": [{**good, **change}]}
        )
        assert response.status_code == 400, response.text
        assert field in response.json()["detail"]
        assert _configs(client) == before


def test_two_forwarders_with_one_name_are_a_conflict_the_document_declares(server):
    """Each forwarder is valid alone (the schema cannot say names are unique): a 409, like a
    clash with the configuration file's names, and nothing changes."""
    one = {"name": "s", "target": {"kind": "syslog", "host": "127.0.0.1"}}
    with server.client() as client:
        put_forwarders(client, [one])
        before = _configs(client)
        twice = [{**one, "batch_size": 7}, {**one, "enabled": False}]
        response = client.put("/api/v1/activity/forwarders", json={"forwarders": twice})
        assert response.status_code == 409, response.text
        assert "'s' is used twice - at `$.forwarders[1].name`" in response.json()["detail"]
        assert _configs(client) == before
        document = client.get("/schema/openapi.json").json()
    assert "409" in document["paths"]["/api/v1/activity/forwarders"]["put"]["responses"]


def test_secrets_are_write_only_and_never_in_entries_exports_or_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with HttpCollector() as collector, fast_server(tmp_path / "data") as server:
        with server.client() as client:
            body = put_forwarders(client, _all(collector.port))
            shown = {f["config"]["name"]: f for f in body["forwarders"]}
            assert shown["hook"]["secrets_set"] == ["secret"]
            assert shown["hook"]["config"]["target"]["secret"] is None
            assert shown["otel"]["config"]["target"]["headers"] is None
            assert shown["tls"]["config"]["target"]["client_key_pem"] is None
            # A change that leaves the secrets out keeps them.
            changed = _all(collector.port)
            for forwarder in changed:
                forwarder["target"].pop("secret", None)
                forwarder["target"].pop("headers", None)
                forwarder["target"].pop("client_key_pem", None)
            changed[0]["batch_size"] = 3
            body = put_forwarders(client, changed)
            assert [f["secrets_set"] for f in body["forwarders"]] == [
                ["secret"],
                ["headers"],
                ["client_key_pem"],
            ]
            stored_value = server.app.state.forwarding.configs[0].target.secret
            assert stored_value == HOOK_SECRET
            listing = client.get("/api/v1/activity/forwarders").text
            export = client.get("/api/v1/activity/export", params={"format": "json"}).text
            health = client.get("/health").text
            # "" clears a secret.
            changed[0]["target"]["secret"] = ""
            body = put_forwarders(client, changed)
            assert body["forwarders"][0]["secrets_set"] == []
        entries = stored(server)
    logs = caplog.text
    for secret in (HOOK_SECRET, TOKEN, "not-a-real-key-but-secret"):
        for where, text in (("listing", listing), ("export", export), ("health", health)):
            assert secret not in text, where
        assert secret not in logs
        assert all(secret not in str(e) for e in entries)


def test_each_change_is_an_entity_entry_naming_the_forwarders_changed(server):
    one = {"name": "one", "target": {"kind": "syslog", "host": "127.0.0.1"}}
    two = {"name": "two", "target": {"kind": "syslog", "host": "127.0.0.1", "port": 1514}}
    with server.client() as client:
        put_forwarders(client, [one])
        put_forwarders(client, [one, two])
        put_forwarders(client, [one, two])  # no change: no entry
        put_forwarders(client, [two])
        server.app.state.activity_recorder.flush_blocking()
        changes = [
            e
            for e in stored(server)
            if e["category"] == "entity" and e["entity_id"] == "activity_forwarders"
        ]
    assert [e["action"] for e in changes] == ["settings.updated"] * 3
    assert [e["metadata"].get("fields") for e in changes] == [["one"], ["two"], ["one"]]


def test_status_shows_on_health_and_forwarders_survive_a_restart(tmp_path):
    one = {"name": "one", "target": {"kind": "syslog", "host": "127.0.0.1", "port": 9}}
    with fast_server(tmp_path / "data") as server, server.client() as client:
        put_forwarders(client, [one])
        health = client.get("/health").json()["components"]["forwarding"]
        assert "one" in health["details"]
    with fast_server(tmp_path / "data") as server, server.client() as client:
        names = [
            f["config"]["name"]
            for f in client.get("/api/v1/activity/forwarders").json()["forwarders"]
        ]
        assert names == ["one"]


def test_a_restore_brings_back_the_backed_up_forwarders(server, tmp_path):
    kept = {"name": "kept", "target": {"kind": "syslog", "host": "127.0.0.1", "port": 9}}
    later = {"name": "later", "target": {"kind": "syslog", "host": "127.0.0.1", "port": 9}}
    with server.client() as client:
        put_forwarders(client, [kept])
        backup = tmp_path / "backup.db"
        backup.write_bytes(client.get("/api/v1/system/backup").content)
        put_forwarders(client, [later])
        response = client.post(
            "/api/v1/system/restore", params={"name": "backup.db"}, content=backup.read_bytes()
        )
        assert response.status_code == 200, response.text
        assert [c["name"] for c in _configs(client)] == ["kept"]
        assert list(server.app.state.forwarding.statuses()) == ["kept"]


FROM_TOML = {"name": "site", "target": {"kind": "webhook", "url": "http://127.0.0.1:9/h"}}


def test_forwarders_from_the_config_file_run_beside_the_apis_and_stay_fixed(tmp_path):
    extra = {"name": "extra", "target": {"kind": "syslog", "host": "127.0.0.1", "port": 9}}
    server = fast_server(tmp_path / "data", forwarders=[FROM_TOML])
    with server, server.client() as client:
        listed = client.get("/api/v1/activity/forwarders").json()["forwarders"]
        assert [(f["config"]["name"], f["source"]) for f in listed] == [("site", "config")]
        changed = {**FROM_TOML, "enabled": False}
        refused = client.put("/api/v1/activity/forwarders", json={"forwarders": [changed]})
        assert refused.status_code == 409
        assert "configuration file" in refused.json()["detail"]
        body = put_forwarders(client, [extra])
        sources = [(f["config"]["name"], f["source"]) for f in body["forwarders"]]
        assert sources == [("site", "config"), ("extra", "api")]
        assert set(server.app.state.forwarding.statuses()) == {"site", "extra"}


def test_a_bad_forwarder_in_the_config_file_stops_the_start_naming_it(tmp_path):
    config = tmp_path / "ledgrab.toml"
    config.write_text(
        '[[forwarders]]\nname = "site"\n[forwarders.target]\nkind = "syslog"\nhost = "h"\n'
        "port = 99999\n"
    )
    with pytest.raises(ConfigError, match=r"forwarders.*\$\.forwarders\[0\]\.target\.port"):
        load_settings(config)
