"""Names and labels with control or bidirectional characters: refused with a 400 naming the field
and the character, on create and on PATCH, through the API and `ledgrab keys create`; names from
an older file load cleaned instead of crashing or vanishing."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ledgrab.cli import main
from tests.support.live_server import LiveServer

BAD_NAMES = {
    "bell": ("desk\x07", "U+0007"),
    "escape sequence": ("\x1b[31mred", "U+001B"),
    "trailing newline": ("desk\n", "U+000A"),
    "C1 next line": ("desk\x85x", "U+0085"),
    "right-to-left override": ("txt.\u202eexe", "U+202E"),
    "first strong isolate": ("a\u2068b", "U+2068"),
}


def _device(name: str) -> dict:
    return {"name": name, "type": "virtual", "led_count": 10}


@pytest.mark.parametrize("name,code", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_every_entity_refuses_the_name_on_create_and_patch(server: LiveServer, name, code):
    with server.client() as client:
        device = client.post("/api/v1/devices", json=_device("strip")).json()
        source = client.post("/api/v1/sources", json={"name": "fx", "kind": "static"}).json()
        target = client.post(
            "/api/v1/targets",
            json={"name": "t", "device_id": device["id"], "source_id": source["id"]},
        ).json()
        before = _all_names(client)
        attempts = [
            ("post", "/api/v1/devices", _device(name)),
            ("post", "/api/v1/sources", {"name": name, "kind": "static"}),
            (
                "post",
                "/api/v1/targets",
                {"name": name, "device_id": device["id"], "source_id": source["id"]},
            ),
            ("patch", f"/api/v1/devices/{device['id']}", {"name": name}),
            ("patch", f"/api/v1/sources/{source['id']}", {"kind": "static", "name": name}),
            ("patch", f"/api/v1/targets/{target['id']}", {"name": name}),
        ]
        for method, path, body in attempts:
            answer = client.request(method, path, json=body)
            assert answer.status_code == 400, (method, path, answer.text)
            detail = answer.json()["detail"]
            assert "name" in detail and code in detail, detail
        assert _all_names(client) == before  # nothing created, nothing renamed


def _all_names(client) -> list[str]:
    return sorted(
        e["name"]
        for kind in ("devices", "sources", "targets")
        for e in client.get(f"/api/v1/{kind}").json()
    )


def test_a_colour_param_with_a_trailing_newline_is_refused(server: LiveServer):
    """The `$` of a Python pattern also matches before a final newline."""
    with server.client() as client:
        answer = client.post(
            "/api/v1/sources",
            json={"name": "glow", "kind": "static", "params": {"color": "#ff8800\n"}},
        )
    assert answer.status_code == 400
    assert "color" in answer.json()["detail"]


def test_e131_source_name_is_plain_text_too(server: LiveServer):
    with server.client() as client:
        answer = client.post(
            "/api/v1/devices",
            json={**_device("ok"), "type": "e131", "source_name": "x\u202ey"},
        )
    assert answer.status_code == 400
    assert "source_name" in answer.json()["detail"]


@pytest.mark.parametrize("label", ["ci\n", "ci\x00", "ci\u202e"])
def test_api_key_label_refused_by_api_and_cli(server: LiveServer, tmp_path, capsys, label):
    with server.client() as client:
        answer = client.post("/api/v1/system/api-keys", json={"label": label})
        assert answer.status_code == 400, answer.text
        assert "label" in answer.text  # the detail, or the field named in `extra`
        assert main(["keys", "create", "--data-dir", str(server.data_dir), label]) == 1
        assert "label" in capsys.readouterr().err
        labels = [k["label"] for k in client.get("/api/v1/system/api-keys").json()]
    assert labels == ["admin"]


def test_a_stored_name_from_an_older_file_loads_cleaned(tmp_path):
    data = tmp_path / "data"
    with LiveServer(data) as live, live.client() as client:
        device_id = client.post("/api/v1/devices", json=_device("kept")).json()["id"]
    # What an older version (or a hand-edited backup) could have stored.
    with sqlite3.connect(data / "ledgrab.db") as conn:
        config = json.loads(
            conn.execute("SELECT config FROM devices WHERE id = ?", (device_id,)).fetchone()[0]
        )
        config["name"] = "\x1b[2Jkept\u202e"
        conn.execute("UPDATE devices SET config = ? WHERE id = ?", (json.dumps(config), device_id))
    conn.close()
    with LiveServer(data) as live, live.client() as client:
        shown = client.get(f"/api/v1/devices/{device_id}")
    assert shown.status_code == 200
    assert shown.json()["name"] == "\ufffd[2Jkept\ufffd"
