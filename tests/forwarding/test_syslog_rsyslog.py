"""Syslog forwarding into Debian's rsyslogd over UDP, TCP and TLS: every entry arrives as it is
stored, parsed back as RFC 5424; an outage loses nothing; a certificate from another CA is
refused and the forwarder says why."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.forwarding.helpers import (
    fast_server,
    put_forwarders,
    record_tricky,
    status,
    stored,
    wait_delivered,
)
from tests.support.live_server import wait_for
from tests.support.rsyslog import Rsyslog, needs_rsyslog, parse_rfc5424
from tests.support.tls_ca import TestCA

pytestmark = needs_rsyslog
SEVERITY = {"info": 6, "warning": 4, "error": 3, "critical": 2}
LOCAL3 = 19


@pytest.fixture
def rsyslog(tmp_path):
    with Rsyslog(tmp_path / "rsyslog", TestCA()) as receiver:
        yield receiver


def _forwarder(rsyslog: Rsyslog, transport: str, **target) -> dict:
    config = {
        "kind": "syslog",
        "host": "127.0.0.1",
        "port": rsyslog.ports[transport],
        "transport": transport,
        "facility": "local3",
        **target,
    }
    if transport == "tls":
        config.setdefault("ca_pem", rsyslog.ca.cert_pem)
    return {"name": f"rs-{transport}", "target": config, "start": "oldest"}


def _received(rsyslog: Rsyslog, transport: str) -> list[dict]:
    return [parse_rfc5424(line) for line in rsyslog.lines(transport)]


def _entries_only(messages: list[dict]) -> list[dict]:
    return [m for m in messages if "ledgrab@32473" in m["sd"]]


def _assert_same(message: dict, entry: dict, device: str) -> None:
    sd = message["sd"]["ledgrab@32473"]
    assert sd["device"] == device
    assert message["pri"] == LOCAL3 * 8 + SEVERITY[entry["severity"]]
    assert message["app"] == "ledgrab"
    assert message["msgid"] == entry["action"]
    assert message["bom"]
    assert message["msg"] == entry["message"]
    sent_ts = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
    assert sent_ts == datetime.fromisoformat(entry["ts"].replace("Z", "+00:00"))
    assert int(sd["seq"]) == entry["seq"]
    assert sd["chain"] == entry["chain"]
    for field in ("id", "category", "severity", "actor", "entity_type", "entity_id", "entity_name"):
        assert sd.get(field) == entry[field], field
    assert json.loads(sd["metadata"]) == entry["metadata"]


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_every_entry_arrives_as_stored(tmp_path, rsyslog, transport):
    with fast_server(tmp_path / "data") as server, server.client() as client:
        put_forwarders(client, [_forwarder(rsyslog, transport)])
        record_tricky(server, 40)
        wait_delivered(server, client, f"rs-{transport}")
        entries = stored(server)
        device = server.app.state.activity.key.origin.rsplit("/", 1)[-1]
    wait_for(
        lambda: len(_entries_only(_received(rsyslog, transport))) >= len(entries),
        what="rsyslog to write every message",
    )
    messages = _entries_only(_received(rsyslog, transport))
    assert [int(m["sd"]["ledgrab@32473"]["seq"]) for m in messages] == [e["seq"] for e in entries]
    for message, entry in zip(messages, entries, strict=True):
        _assert_same(message, entry, device)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_an_entry_larger_than_the_limit_keeps_seq_chain_and_fits(tmp_path, rsyslog, transport):
    with fast_server(tmp_path / "data") as server, server.client() as client:
        put_forwarders(client, [_forwarder(rsyslog, transport, max_message_bytes=600)])
        server.app.state.activity_recorder.record(
            "system", "big.entry", message="ü" * 900, metadata={"blob": "x" * 3000}
        )
        wait_delivered(server, client, f"rs-{transport}")
        entry = stored(server)[-1]
    big = wait_for(
        lambda: [
            m for m in _entries_only(_received(rsyslog, transport)) if m["msgid"] == "big.entry"
        ],
        what="the big entry",
    )[0]
    raw = next(line for line in rsyslog.lines(transport) if b"big.entry" in line)
    assert len(raw) <= 600
    sd = big["sd"]["ledgrab@32473"]
    assert (int(sd["seq"]), sd["chain"], sd["truncated"]) == (entry["seq"], entry["chain"], "1")
    assert "metadata" not in sd
    assert entry["message"].startswith(big["msg"]) and 0 < len(big["msg"]) < 900


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_an_outage_loses_nothing_and_repeats_nothing(tmp_path, rsyslog, transport):
    name = f"rs-{transport}"
    with fast_server(tmp_path / "data") as server, server.client() as client:
        put_forwarders(client, [_forwarder(rsyslog, transport)])
        record_tricky(server, 10, "before ")
        wait_delivered(server, client, name)
        rsyslog.stop()
        record_tricky(server, 30, "during ")
        down = wait_for(
            lambda: (s := status(client, name))["state"] == "retrying" and s, what="a failure"
        )
        assert down["lag_entries"] > 0 and down["last_error"]
        health = client.get("/health").json()["components"]["forwarding"]
        assert health["state"] == "degraded" and name in health["reason"]
        rsyslog.start()
        record_tricky(server, 5, "after ")
        back = wait_delivered(server, client, name)
        assert back["state"] == "ok" and back["lag_entries"] == 0
        entries = stored(server)
    wait_for(
        lambda: len(_entries_only(_received(rsyslog, transport))) >= len(entries),
        what="rsyslog to write every message",
    )
    seqs = [
        int(m["sd"]["ledgrab@32473"]["seq"]) for m in _entries_only(_received(rsyslog, transport))
    ]
    assert seqs == [e["seq"] for e in entries]  # all, in order, none twice


def test_a_certificate_from_another_ca_is_refused_and_said(tmp_path, rsyslog):
    stranger = TestCA("Some other CA")
    with fast_server(tmp_path / "data") as server, server.client() as client:
        put_forwarders(client, [_forwarder(rsyslog, "tls", ca_pem=stranger.cert_pem)])
        record_tricky(server, 3)
        failing = wait_for(
            lambda: (s := status(client, "rs-tls"))["last_error"] and s, what="a refusal"
        )
        assert "CERTIFICATE_VERIFY_FAILED" in failing["last_error"]
        assert (
            failing["state"] == "retrying" and failing["delivered_seq"] < stored(server)[-1]["seq"]
        )
    assert rsyslog.lines("tls") == []


def test_a_client_certificate_is_presented_when_the_collector_asks_for_one(tmp_path):
    ca = TestCA()
    cert, key = ca.issue("board-1", server=False)
    with Rsyslog(tmp_path / "rsyslog", ca, require_client_cert=True) as strict:
        with fast_server(tmp_path / "data") as server, server.client() as client:
            put_forwarders(client, [_forwarder(strict, "tls")])  # no client certificate
            record_tricky(server, 2)
            refused = wait_for(lambda: status(client, "rs-tls")["last_error"], what="a refusal")
            assert "closed the connection" in refused
            # Each connection is taken, then dropped: the forwarder still backs off, doubling.
            wait_for(lambda: status(client, "rs-tls")["consecutive_failures"] >= 3, what="backoff")
            signed = _forwarder(strict, "tls", client_cert_pem=cert, client_key_pem=key)
            put_forwarders(client, [{**signed, "name": "rs-tls-signed"}])
            wait_delivered(server, client, "rs-tls-signed")
            entries = stored(server)
        wait_for(
            lambda: len(_entries_only(_received(strict, "tls"))) >= len(entries),
            what="rsyslog to write every message",
        )
    seqs = [int(m["sd"]["ledgrab@32473"]["seq"]) for m in _entries_only(_received(strict, "tls"))]
    assert seqs == [e["seq"] for e in entries]
