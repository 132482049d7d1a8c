"""OTLP/HTTP JSON logs, decoded by the official opentelemetry-proto messages: one record per
entry with its time, severity, body and every field; an outage loses and repeats nothing."""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.forwarding.helpers import (
    fast_server,
    put_forwarders,
    record_tricky,
    status,
    stored,
    wait_delivered,
)
from tests.support.http_collector import HttpCollector
from tests.support.live_server import wait_for

SEVERITY = {
    "info": (9, "INFO"),
    "warning": (13, "WARN"),
    "error": (17, "ERROR"),
    "critical": (21, "FATAL"),
}


@pytest.fixture
def collector():
    with HttpCollector() as running:
        yield running


def _decoded(collector: HttpCollector) -> list[ExportLogsServiceRequest]:
    return [json_format.Parse(body, ExportLogsServiceRequest()) for body in collector.bodies()]


def _records(requests) -> list:
    return [
        record
        for request in requests
        for resource in request.resource_logs
        for scope in resource.scope_logs
        for record in scope.log_records
    ]


def _attributes(record) -> dict:
    out = {}
    for kv in record.attributes:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind)
    return out


def _forwarder(collector: HttpCollector, **extra) -> dict:
    return {
        "name": "otel",
        "start": "oldest",
        "target": {
            "kind": "otlp",
            "url": collector.url("/v1/logs"),
            "headers": {"Authorization": "Bearer collector-token-123"},
        },
        **extra,
    }


def _ts_ns(entry: dict) -> int:
    from datetime import datetime

    moment = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00"))
    from ledgrab.storage.activity_log import to_us

    return to_us(moment) * 1000


def test_every_entry_is_one_record_with_all_its_fields(tmp_path, collector):
    with fast_server(tmp_path / "data") as server, server.client() as client:
        put_forwarders(client, [_forwarder(collector)])
        record_tricky(server, 25)
        wait_delivered(server, client, "otel")
        entries = stored(server)
        device = server.app.state.activity.key.origin.rsplit("/", 1)[-1]
    requests = _decoded(collector)
    assert {r.path for r in collector.received} == {"/v1/logs"}
    assert all(
        r.headers["authorization"] == "Bearer collector-token-123" for r in collector.received
    )
    for request in requests:
        (resource,) = request.resource_logs
        attributes = _attributes(resource.resource)
        assert attributes["service.name"] == "ledgrab"
        assert attributes["service.instance.id"] == device and attributes["host.name"]
    records = _records(requests)
    assert [_attributes(r)["ledgrab.seq"] for r in records] == [e["seq"] for e in entries]
    for record, entry in zip(records, entries, strict=True):
        attributes = _attributes(record)
        assert record.time_unix_nano == _ts_ns(entry)
        assert (record.severity_number, record.severity_text) == SEVERITY[entry["severity"]]
        assert record.body.string_value == entry["message"]
        assert attributes["ledgrab.chain"] == entry["chain"]
        assert attributes["ledgrab.action"] == entry["action"] == record.event_name
        for field in ("id", "category", "actor", "entity_type", "entity_id", "entity_name"):
            assert attributes.get(f"ledgrab.{field}") == entry[field], field


def test_an_outage_loses_nothing_and_repeats_nothing(tmp_path, collector):
    with fast_server(tmp_path / "data") as server, server.client() as client:
        put_forwarders(client, [_forwarder(collector)])
        record_tricky(server, 5, "before ")
        wait_delivered(server, client, "otel")
        collector.stop()
        record_tricky(server, 20, "refused ")
        wait_for(lambda: status(client, "otel")["state"] == "retrying", what="a failure")
        collector.answer = 503
        collector.start()
        record_tricky(server, 20, "unavailable ")
        failing = wait_for(
            lambda: (
                "503" in (status(client, "otel")["last_error"] or "") and status(client, "otel")
            ),
            what="the 503",
        )
        assert failing["lag_entries"] >= 40
        collector.answer = 200
        wait_delivered(server, client, "otel")
        entries = stored(server)
    seqs = [_attributes(r)["ledgrab.seq"] for r in _records(_decoded(collector))]
    assert seqs == [e["seq"] for e in entries]
