"""Shared steps of the forwarding tests: a server with quick forwarder timings, configuring
forwarders through the API, waiting for delivery, the entries as the log holds them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.live_server import LiveServer, wait_for

__all__ = ["TRICKY", "fast_server", "put_forwarders", "record_tricky", "stored", "wait_delivered"]

QUICK = {
    "poll_interval_s": 0.05,
    "confirm_after_s": 0.3,
    "retry_min_s": 0.1,
    "retry_max_s": 0.4,
    "timeout_s": 2.0,
}
# What must survive every format: SD-PARAM escapes, quotes, a BOM-worthy text, JSON in JSON.
TRICKY = [
    'quote " backslash \\ bracket ] end',
    "Küche ✓ — 日本語",
    '[ledgrab@32473 seq="1"] forged structured data',
    "plain",
]


CLIENT_KEY = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key-but-secret\n-----END PRIVATE KEY-----"
# A syslog-over-TLS forwarder with a client certificate and its (secret) key; off, so it sends
# nothing.
TLS_FORWARDER = {
    "name": "tls",
    "enabled": False,
    "target": {
        "kind": "syslog",
        "host": "127.0.0.1",
        "transport": "tls",
        "ca_pem": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
        "client_cert_pem": "-----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----",
        "client_key_pem": CLIENT_KEY,
    },
}


def fast_server(data_dir: Path, **overrides: Any) -> LiveServer:
    return LiveServer(data_dir, forwarding=QUICK, **overrides)


def put_forwarders(client, forwarders: list[dict]) -> dict:
    response = client.put("/api/v1/activity/forwarders", json={"forwarders": forwarders})
    assert response.status_code == 200, response.text
    return response.json()


def status(client, name: str) -> dict:
    body = client.get("/api/v1/activity/forwarders").json()
    return next(f["status"] for f in body["forwarders"] if f["config"]["name"] == name)


def newest_seq(server: LiveServer) -> int:
    return stored(server)[-1]["seq"]


def wait_delivered(server: LiveServer, client, name: str, timeout: float = 30) -> dict:
    """Every committed entry delivered (confirmed) by forwarder `name`."""
    server.app.state.activity_recorder.flush_blocking()
    target = newest_seq(server)

    def done():
        current = status(client, name)
        return current if current["delivered_seq"] >= target else None

    return wait_for(done, timeout=timeout, what=f"{name} to deliver up to seq {target}")


def record_tricky(server: LiveServer, count: int, tag: str = "") -> None:
    recorder = server.app.state.activity_recorder
    severities = ["info", "warning", "error", "critical"]
    for i in range(count):
        text = TRICKY[i % len(TRICKY)]
        recorder.record(
            "device" if i % 2 else "entity",
            "device.updated",
            severity=severities[i % 4],
            entity_type="device",
            entity_id=f"d{i % 3}",
            entity_name=text,
            message=f"{tag}{text} #{i}",
            metadata={"n": i, "text": text, "nested": {"q": '"]\\'}},
        )
    recorder.flush_blocking()


def stored(server: LiveServer) -> list[dict]:
    """Every entry in the log with seq and chain (the JSON export, without its two read-time
    clock columns, which a forwarder does not send), oldest first."""
    with server.client() as client:
        body = client.get("/api/v1/activity/export", params={"format": "json"}).text
    entries = [
        {k: v for k, v in e.items() if k not in ("clock_synchronised", "ts_corrected")}
        for e in json.loads(body)
    ]
    return sorted(entries, key=lambda e: e["seq"])
