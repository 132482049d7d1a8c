"""The OpenAPI document and the server agree: the cross-field rules the server enforces are in
the document (data valid by it is accepted, data invalid by it refused), a PATCH whose fields
break such a rule with the stored ones is a conflict, and every answer is typed as answered."""

from __future__ import annotations

import itertools

import jsonschema_rs
import msgspec
import pytest

from ledgrab.models.devices import E131Device
from tests.forwarding.helpers import TLS_FORWARDER
from tests.support.live_server import LiveServer
from tests.support.openapi_check import answer_schema, component_validator, document, validator

DEVICES = "/api/v1/devices"
# Around the last universes (63999 is the last; 25 universes of 170 RGB LEDs hold 4096, 32 of
# 128 RGBW LEDs do), and LED counts around one universe's worth.
UNIVERSES = (1, 63968, 63969, 63975, 63976, 63990, 63998, 63999)
LED_COUNTS = (1, 128, 129, 170, 171, 256, 4080, 4096)
RGBW = ({}, {"rgbw": False}, {"rgbw": True})


@pytest.fixture
def bare(tmp_path):
    with LiveServer(tmp_path / "data", demo_on_first_start=False) as live:
        yield live


def _accepted(body: dict, model: type[msgspec.Struct]) -> bool:
    try:
        msgspec.convert(body, model, strict=True)
    except msgspec.ValidationError:
        return False
    return True


def test_the_documents_e131_universe_rule_is_the_servers(bare):
    with bare.client() as c:
        doc = document(c)
    check = component_validator(doc, "E131Device")
    disagree = []
    for universe, leds, rgbw in itertools.product(UNIVERSES, LED_COUNTS, RGBW):
        body = {"type": "e131", "name": "e", "led_count": leds, "universe": universe, **rgbw}
        if check.is_valid(body) != _accepted(body, E131Device):
            disagree.append(body)
    assert disagree == []
    assert check.is_valid({"type": "e131", "name": "e", "led_count": 4096})  # universe 1


def test_leds_past_universe_63999_are_a_400_naming_universe_and_the_edge_is_accepted(bare):
    with bare.client() as c:
        too_many = {"type": "e131", "name": "e", "led_count": 171, "universe": 63999}
        refused = c.post(DEVICES, json=too_many)
        assert refused.status_code == 400, refused.text
        errors = refused.json()["errors"]
        assert errors[0]["field"] == "universe" and "pass 63999" in errors[0]["message"]
        assert "at most 170 LEDs" in errors[0]["message"]
        assert c.get(DEVICES).json() == []
        edge = c.post(DEVICES, json={**too_many, "led_count": 170})
        assert edge.status_code == 201, edge.text


def test_a_patch_that_breaks_a_rule_between_fields_is_a_409_naming_the_field(bare):
    """Each field of a PATCH is checked alone (the document's DevicePatch); the device they make
    with the stored fields is the server's to judge: a conflict, and nothing changes."""
    with bare.client() as c:
        doc = document(c)
        patch_check = component_validator(doc, "DevicePatch")
        body = {"type": "e131", "name": "e", "led_count": 170, "universe": 63990}
        device = c.post(DEVICES, json=body).json()
        url = f"{DEVICES}/{device['id']}"
        # 4096 LEDs need 25 universes; from 63990 there are 10.
        for change in ({"led_count": 4096}, {"led_count": 4096, "universe": 63990, "rgbw": True}):
            assert patch_check.is_valid(change)
            clash = c.patch(url, json=change)
            assert clash.status_code == 409, clash.text
            assert clash.json()["detail"].startswith("universe: 4096 LEDs from universe 63990")
            assert c.get(url).json() == device
        assert c.patch(url, json={"led_count": 1700}).status_code == 200  # ten universes' worth
        ws = c.post(DEVICES, json={"type": "ws281x", "name": "w", "led_count": 3}).json()
        ws_url = f"{DEVICES}/{ws['id']}"
        clash = c.patch(ws_url, json={"channel": 1})  # pin 18 (stored) is on channel 0
        assert clash.status_code == 409 and "channel 0" in clash.json()["detail"], clash.text
        moved = c.patch(ws_url, json={"pin": 13})  # its channel follows the pin
        assert moved.status_code == 200 and moved.json()["channel"] == 1, moved.text
    assert "409" in doc["paths"]["/api/v1/devices/{device_id}"]["patch"]["responses"]


def test_a_forwarders_answer_matches_its_schema_with_the_secrets_hidden(bare):
    forwarder = TLS_FORWARDER
    path = "/api/v1/activity/forwarders"
    with bare.client() as c:
        doc = document(c)
        # The request schema keeps the pairing rule: a certificate without its key is refused.
        unpaired = {**forwarder, "target": {**forwarder["target"], "client_key_pem": None}}
        assert not component_validator(doc, "ForwarderList").is_valid({"forwarders": [unpaired]})
        put = c.put(path, json={"forwarders": [forwarder]})
        assert put.status_code == 200, put.text
        listed = c.get(path).json()
    assert listed["forwarders"][0]["config"]["target"]["client_key_pem"] is None
    for method, answer in (("put", put.json()), ("get", listed)):
        errors = [
            e.message
            for e in validator(doc, answer_schema(doc, path, method, "200")).iter_errors(answer)
        ]
        assert errors == [], (method, errors)


def test_source_kinds_answer_typed_defaults(bare):
    with bare.client() as c:
        doc = document(c)
        kinds = c.get("/api/v1/sources/kinds").json()
    schema = answer_schema(doc, "/api/v1/sources/kinds", "get", "200")
    assert list(validator(doc, schema).iter_errors(kinds)) == []
    members = {
        ref["$ref"].rsplit("/", 1)[1]: doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
        for ref in schema["items"]["oneOf"]
    }
    for kind in kinds:
        member = next(
            m for m in members.values() if m["properties"]["kind"]["enum"] == [kind["kind"]]
        )
        defaults = member["properties"]["defaults"]
        params = doc["components"]["schemas"][defaults["$ref"].rsplit("/", 1)[1]]
        assert set(params["properties"]) == set(kind["defaults"]), kind["kind"]


def test_capture_counters_are_typed_in_the_document(bare):
    with bare.client() as c:
        doc = document(c)
    schemas = doc["components"]["schemas"]
    state = schemas["CaptureState"]["properties"]
    for field, component, counter in (
        ("stats", "CaptureInputStats", "dropped_late"),
        ("listener", "ListenerStats", "malformed"),
    ):
        refs = [option.get("$ref") for option in state[field]["anyOf"]]
        assert f"#/components/schemas/{component}" in refs
        assert schemas[component]["properties"][counter] == {"type": "integer", "default": 0}


def test_identify_declares_its_conflict(bare):
    with bare.client() as c:
        doc = document(c)
        body = {"type": "adalight", "name": "a", "led_count": 3, "serial_port": "/dev/ttyNOPE9"}
        device = c.post(DEVICES, json=body).json()
        lit = c.post(f"{DEVICES}/{device['id']}/identify")
    assert lit.status_code == 409, lit.text
    path = "/api/v1/devices/{device_id}/identify"
    assert (
        list(validator(doc, answer_schema(doc, path, "post", "409")).iter_errors(lit.json())) == []
    )


def test_every_schema_in_the_document_is_json_schema_with_ecma_patterns(bare):
    """Building a validator checks each schema against the 2020-12 meta-schema, patterns included
    (a Python-only regex such as `\\Z` is refused, as a browser's pattern attribute refuses it)."""
    with bare.client() as c:
        doc = document(c)
    refused = []
    for name in doc["components"]["schemas"]:
        try:
            component_validator(doc, name)
        except jsonschema_rs.ValidationError as exc:
            refused.append((name, str(exc).splitlines()[0]))
    assert refused == []
    parameters = [
        p["schema"]
        for item in doc["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for p in operation.get("parameters", [])
    ]
    validator(doc, {"$defs": {str(i): schema for i, schema in enumerate(parameters)}})


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_in_the_document_names_a_schema_it_has(bare):
    with bare.client() as c:
        doc = document(c)
        exported = c.get("/api/v1/activity/export", params={"format": "json"})
    schemas = doc["components"]["schemas"]
    dangling = sorted({r for r in _refs(doc) if r.rsplit("/", 1)[-1] not in schemas})
    assert dangling == []
    schema = doc["paths"]["/api/v1/activity/export"]["get"]["responses"]["200"]["content"]
    answer = exported.json()
    assert answer, "the server's start is an entry"
    errors = [
        e.message for e in validator(doc, schema["application/json"]["schema"]).iter_errors(answer)
    ]
    assert errors == []
