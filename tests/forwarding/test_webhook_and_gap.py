"""The webhook: a JSON array of entries signed with HMAC-SHA256 over the body; entries removed by
retention before delivery become an explicit gap in the stream and a `forward.gap` entry."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

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

SECRET = "a shared secret of the bridge"


@pytest.fixture
def collector():
    with HttpCollector() as running:
        yield running


def _hook(collector: HttpCollector, **extra) -> dict:
    target = {"kind": "webhook", "url": collector.url("/hook"), "secret": SECRET}
    return {"name": "hook", "start": "oldest", "target": target, **extra}


def _verified(received) -> list:
    """Each body whose signature checks out with the shared secret, decoded."""
    out = []
    for request in received:
        expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers["x-ledgrab-signature"], expected)
        out.extend(json.loads(request.body))
    return out


def test_the_signature_covers_the_body_and_the_items_are_the_entries(tmp_path, collector):
    with fast_server(tmp_path / "data") as server, server.client() as client:
        put_forwarders(client, [_hook(collector, batch_size=7)])
        record_tricky(server, 20)
        wait_delivered(server, client, "hook")
        entries = stored(server)
    assert len(collector.received) >= 3  # several bounded batches
    assert _verified(collector.received) == entries
    forged = collector.received[0]
    tampered = forged.body.replace(b'"seq":', b'"seq": ', 1)
    digest = hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest()
    assert forged.headers["x-ledgrab-signature"] != "sha256=" + digest


def test_filters_choose_what_is_sent_and_the_cursor_passes_the_rest(tmp_path, collector):
    filtered = _hook(
        collector, min_severity="error", filters={"categories": ["device"], "entity_id": "d1"}
    )
    with fast_server(tmp_path / "data") as server, server.client() as client:
        put_forwarders(client, [filtered])
        record_tricky(server, 48)
        done = wait_delivered(server, client, "hook")
        entries = stored(server)
    wanted = [
        e
        for e in entries
        if e["severity"] in ("error", "critical")
        and e["category"] == "device"
        and e["entity_id"] == "d1"
    ]
    assert wanted and _verified(collector.received) == wanted
    assert done["lag_entries"] == 0


def test_entries_pruned_before_delivery_are_an_explicit_gap(tmp_path, collector):
    collector.answer = 503  # the bridge is down while retention removes what it has not seen
    with fast_server(tmp_path / "data") as server, server.client() as client:
        response = client.put("/api/v1/activity/settings", json={"max_entries": 1000})
        assert response.status_code == 200, response.text
        put_forwarders(client, [_hook(collector, start="now")])
        first_new = stored(server)[-1]["seq"] + 1
        record_tricky(server, 1300)
        wait_for(lambda: stored(server)[0]["seq"] > first_new, what="retention to prune")
        oldest_kept = stored(server)[0]["seq"]
        collector.answer = 200
        wait_delivered(server, client, "hook")
        wait_delivered(server, client, "hook")  # the forward.gap entry itself, too
        gaps = [e for e in stored(server) if e["action"] == "forward.gap"]
        counted = status(client, "hook")["gaps_total"]
    items = _verified(collector.received)
    marker = items[0]["gap"]
    assert marker["first"] <= first_new and marker["last"] == oldest_kept - 1
    assert marker["count"] == marker["last"] - marker["first"] + 1
    assert items[1]["seq"] == oldest_kept
    (gap,) = gaps
    assert gap["severity"] == "warning" and gap["metadata"]["forwarder"] == "hook"
    assert (gap["metadata"]["first"], gap["metadata"]["last"]) == (marker["first"], marker["last"])
    assert counted == 1


def test_a_clean_restart_sends_nothing_twice(tmp_path, collector):
    with fast_server(tmp_path / "data") as server, server.client() as client:
        put_forwarders(client, [_hook(collector)])
        record_tricky(server, 15)
        wait_delivered(server, client, "hook")
    with fast_server(tmp_path / "data") as server, server.client() as client:
        record_tricky(server, 5, "after restart ")
        wait_delivered(server, client, "hook")
        entries = stored(server)
    assert [i["seq"] for i in _verified(collector.received)] == [e["seq"] for e in entries]
