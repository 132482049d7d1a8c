"""Devices, sources and targets over HTTP: CRUD shapes, persistence, and refusals that change
nothing."""

from __future__ import annotations

import pytest

from tests.support.live_server import LiveServer

RAINBOW = {"name": "Rainbow", "kind": "rainbow", "params": {"speed": 0.5}}


@pytest.fixture
def bare(tmp_path):
    with LiveServer(tmp_path / "data", demo_on_first_start=False) as live:
        yield live


def _snapshot(client):
    return {k: client.get(f"/api/v1/{k}").json() for k in ("devices", "sources", "targets")}


def test_device_crud_round_trip(bare):
    with bare.client() as c:
        created = c.post(
            "/api/v1/devices",
            json={"type": "ddp", "name": "Shelf", "led_count": 120, "address": "192.168.1.40"},
        )
        assert created.status_code == 201
        device = created.json()
        assert device["id"].startswith("dev_")
        assert (device["type"], device["name"], device["led_count"]) == ("ddp", "Shelf", 120)
        assert device["port"] == 4048  # the type's default filled in
        assert c.get(f"/api/v1/devices/{device['id']}").json() == device
        assert c.get("/api/v1/devices").json() == [device]

        patched = c.patch(f"/api/v1/devices/{device['id']}", json={"led_count": 150})
        assert patched.status_code == 200
        assert patched.json()["led_count"] == 150
        assert patched.json()["address"] == "192.168.1.40"

        assert c.delete(f"/api/v1/devices/{device['id']}").status_code == 204
        assert c.get(f"/api/v1/devices/{device['id']}").status_code == 404
        assert c.get("/api/v1/devices").json() == []


def test_source_params_are_validated_and_merged(bare):
    with bare.client() as c:
        source = c.post("/api/v1/sources", json=RAINBOW).json()
        assert source["params"] == {"speed": 0.5, "cycles": 1.0, "saturation": 1.0}
        merged = c.patch(
            f"/api/v1/sources/{source['id']}", json={"kind": "rainbow", "params": {"cycles": 3}}
        )
        assert merged.json()["params"] == {"speed": 0.5, "cycles": 3.0, "saturation": 1.0}
        switched = c.patch(f"/api/v1/sources/{source['id']}", json={"kind": "static"})
        assert switched.json()["params"] == {"color": "#ffffff"}
        kinds = {k["kind"] for k in c.get("/api/v1/sources/kinds").json()}
        assert {"static", "gradient", "rainbow", "breathing", "chase", "fire"} <= kinds
        assert {"twinkle", "noise"} <= kinds


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (
            "devices",
            {"type": "laser", "name": "x", "led_count": 3},
            ("type", "is not a device type"),
        ),
        (
            "devices",
            {"type": "virtual", "name": "x", "led_count": 0},
            ("led_count", "must be at least 1"),
        ),
        (
            "devices",
            {"type": "virtual", "name": "x", "led_count": 99999},
            ("led_count", "must be at most 4096"),
        ),
        ("devices", {"type": "ws281x", "name": "x", "led_count": 3, "pin": 4}, ("pin", "GPIO 4")),
        ("devices", {"type": "ws281x", "name": "x", "led_count": 3, "dma": 5}, ("dma", "SD card")),
        (
            "devices",
            {"type": "ws281x", "name": "x", "led_count": 3, "pin": 13, "channel": 0},
            ("channel", "channel 1"),
        ),
        (
            "devices",
            {"type": "ddp", "name": "x", "led_count": 3, "address": "8.8.8.8"},
            ("address", "not a LAN address"),
        ),
        (
            "devices",
            {"type": "wled", "name": "x", "led_count": 3, "address": "2606:4700::1111"},
            ("address", "not a LAN address"),
        ),
        (
            "devices",
            {"type": "adalight", "name": "x", "led_count": 3, "serial_port": "/etc/passwd"},
            ("serial_port", "not a device path"),
        ),
        (
            "devices",
            {
                "type": "adalight",
                "name": "x",
                "led_count": 3,
                "serial_port": "/dev/ttyUSB0",
                "baud_rate": 9600,
            },
            ("baud_rate", "must be at least 115200"),
        ),
        (
            "devices",
            {"type": "virtual", "name": "x", "led_count": 3, "colour": 1},
            ("colour", "is not a field here"),
        ),
        ("sources", {"name": "x", "kind": "lava"}, ("kind", "is not a source kind")),
        (
            "sources",
            {"name": "x", "kind": "static", "params": {"color": "red"}},
            ("params.color", "must be a colour like #ff8800"),
        ),
        (
            "sources",
            {"name": "x", "kind": "rainbow", "params": {"speed": 1e9}},
            ("params.speed", "must be at most 100"),
        ),
        (
            "devices",
            {"type": "virtual", "name": "x", "led_count": 3, "rgbw": 0},
            ("rgbw", "true or false"),
        ),
        (
            "devices",
            {"type": "virtual", "name": "x", "led_count": "3"},
            ("led_count", "whole number"),
        ),
        (
            "targets",
            {"name": "x", "device_id": "d", "source_id": "s", "fps": 1.5},
            ("fps", "whole number"),
        ),
        (
            "targets",
            {"name": "x", "device_id": "d", "source_id": "s", "gamma": "2"},
            ("gamma", "a number"),
        ),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(bare, path, body, expected):
    with bare.client() as c:
        before = _snapshot(c)
        response = c.post(f"/api/v1/{path}", json=body)
        assert response.status_code == 400, response.text
        field, words = expected
        answer = response.json()
        named = [e for e in answer["errors"] if e["field"] == field]
        assert named and words in named[0]["message"], answer
        assert words in answer["detail"]
        assert _snapshot(c) == before


def test_a_target_naming_a_missing_device_or_source_is_a_409(bare):
    with bare.client() as c:
        body = {"name": "x", "device_id": "dev_nope", "source_id": "src_nope"}
        response = c.post("/api/v1/targets", json=body)
        assert response.status_code == 409, response.text
        assert "device_id 'dev_nope' names no device" in response.json()["detail"]
        assert "source_id 'src_nope' names no source" in response.json()["detail"]
        assert c.get("/api/v1/targets").json() == []


def test_whole_numbers_written_with_a_point_are_whole_numbers(bare):
    with bare.client() as c:
        created = c.post("/api/v1/devices", json={"type": "virtual", "name": "x", "led_count": 3.0})
        assert created.status_code == 201, created.text
        assert created.json()["led_count"] == 3


def test_private_loopback_link_local_and_names_are_accepted(bare):
    with bare.client() as c:
        for address in (
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.9",
            "169.254.3.4",
            "fe80::1",
            "wled-kitchen.local",
        ):
            body = {"type": "ddp", "name": address, "led_count": 3, "address": address}
            assert c.post("/api/v1/devices", json=body).status_code == 201, address


def test_patch_refuses_a_type_change_and_bad_values_without_changing_anything(bare):
    with bare.client() as c:
        device = c.post(
            "/api/v1/devices", json={"type": "virtual", "name": "v", "led_count": 10}
        ).json()
        for body, field, words in (
            ({"led_count": -1}, "led_count", "must be at least 1"),
            ({"type": "virtual", "rgbw": 1}, "rgbw", "must be true or false"),
            ({"colour": "red"}, "colour", "is not a field here"),
        ):
            response = c.patch(f"/api/v1/devices/{device['id']}", json=body)
            assert response.status_code == 400
            errors = response.json()["errors"]
            assert [e for e in errors if e["field"] == field and words in e["message"]], errors
        for body, words in (
            ({"type": "ddp"}, "type cannot change"),
            ({"address": "10.0.0.2"}, "address: not a field of a virtual device"),
        ):
            clash = c.patch(f"/api/v1/devices/{device['id']}", json=body)
            assert clash.status_code == 409 and words in clash.json()["detail"], clash.text
        assert c.get(f"/api/v1/devices/{device['id']}").json() == device
        missing = c.patch("/api/v1/devices/dev_missing", json={})
        assert missing.status_code == 404


def test_deleting_a_device_or_source_in_use_names_the_target(bare):
    with bare.client() as c:
        device = c.post(
            "/api/v1/devices", json={"type": "virtual", "name": "v", "led_count": 10}
        ).json()
        source = c.post("/api/v1/sources", json=RAINBOW).json()
        target = c.post(
            "/api/v1/targets",
            json={"name": "Desk", "device_id": device["id"], "source_id": source["id"]},
        ).json()
        assert c.post(f"/api/v1/targets/{target['id']}/start").status_code == 200
        for kind, entity in (("devices", device), ("sources", source)):
            response = c.delete(f"/api/v1/{kind}/{entity['id']}")
            assert response.status_code == 409
            assert "'Desk'" in response.json()["detail"]
            assert target["id"] in response.json()["detail"]
            assert "running" in response.json()["detail"]
        assert len(c.get("/api/v1/devices").json()) == 1
        assert c.delete(f"/api/v1/targets/{target['id']}").status_code == 204
        assert c.delete(f"/api/v1/devices/{device['id']}").status_code == 204
        assert c.delete(f"/api/v1/sources/{source['id']}").status_code == 204


def test_entities_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    with LiveServer(data, demo_on_first_start=False) as live, live.client() as c:
        device = c.post(
            "/api/v1/devices",
            json={"type": "e131", "name": "Porch", "led_count": 340, "universe": 7},
        ).json()
        source = c.post("/api/v1/sources", json=RAINBOW).json()
        target = c.post(
            "/api/v1/targets",
            json={
                "name": "Porch",
                "device_id": device["id"],
                "source_id": source["id"],
                "fps": 25,
                "brightness": 0.4,
            },
        ).json()
    with LiveServer(data, demo_on_first_start=False) as live, live.client() as c:
        assert c.get(f"/api/v1/devices/{device['id']}").json() == device
        assert c.get(f"/api/v1/sources/{source['id']}").json() == source
        assert c.get(f"/api/v1/targets/{target['id']}").json() == target


def test_routes_need_the_api_key(bare):
    with bare.client(key=None) as c:
        for path in ("devices", "sources", "targets"):
            assert c.get(f"/api/v1/{path}").status_code == 401
            assert c.post(f"/api/v1/{path}", json={}).status_code == 401
