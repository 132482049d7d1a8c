"""Export (csv/json/ndjson) equals the query; CSV is formula-safe; settings and clear."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.activity.helpers import rows
from tests.support.live_server import LiveServer

TRICKY = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2",
    "@SUM(A1)",
    "\tTabbed",
    'Name with "quotes", commas',
    "line one\nline two\r\nthree",
    "plain",
]


@pytest.fixture
def loaded(tmp_path):
    with LiveServer(tmp_path / "data") as server:
        recorder = server.app.state.activity_recorder
        for i in range(1200):  # more than one export chunk
            name = TRICKY[i % len(TRICKY)]
            recorder.record(
                "entity" if i % 3 else "device",
                "device.updated",
                entity_type="device",
                entity_id=f"d{i % 5}",
                entity_name=name,
                message=f"{name} #{i}",
                metadata={"fields": ["name"], "n": i},
            )
        recorder.flush_blocking()
        yield server


def _query_all(client, params) -> list[dict]:
    items, cursor = [], None
    while True:
        body = client.get("/api/v1/activity", params={**params, "limit": 500, "cursor": cursor})
        # the list says whether each entry is on the card yet; the export commits first
        items += [{k: v for k, v in e.items() if k != "durable"} for e in body.json()["items"]]
        cursor = body.json()["next_cursor"]
        if cursor is None:
            return items


def _without_chain(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in ("seq", "chain")}


def test_json_and_ndjson_exports_equal_the_query(loaded):
    for params in ({}, {"category": "device"}, {"entity_id": "d3"}):
        with loaded.client() as client:
            expected = _query_all(client, params)
            as_json = client.get("/api/v1/activity/export", params={**params, "format": "json"})
            as_nd = client.get("/api/v1/activity/export", params={**params, "format": "ndjson"})
        assert as_json.headers["content-type"].startswith("application/json")
        exported = json.loads(as_json.content)
        # Exports add each entry's seq and chain value to the 11 fields of the list items.
        assert [_without_chain(e) for e in exported] == expected
        assert all(isinstance(e["seq"], int) and len(e["chain"]) == 44 for e in exported)
        assert [json.loads(line) for line in as_nd.text.splitlines()] == exported
        disposition = as_nd.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="ledgrab-activity-')
        assert disposition.endswith('.ndjson"')


def test_csv_export_reads_back_and_neutralises_formulas(loaded):
    with loaded.client() as client:
        expected = _query_all(client, {})
        response = client.get("/api/v1/activity/export", params={"format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    header, body = table[0], table[1:]
    # the 11 fields, seq and chain (what verify reads), then the clock as read
    assert header == [*list(expected[0])[:11], "seq", "chain", "clock_synchronised", "ts_corrected"]
    assert len(body) == len(expected)  # no name could add a line
    for row, entry in zip(body, expected, strict=True):
        cells = dict(zip(header, row, strict=True))
        assert cells["id"] == entry["id"]
        for field in ("message", "entity_name"):
            value = entry[field] or ""
            if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                assert cells[field] == "'" + value
            else:
                assert cells[field] == value
        assert json.loads(cells["metadata"]) == entry["metadata"]
    assert not any(c.startswith(("=", "+", "-", "@")) for row in body for c in row)


def test_an_empty_export_is_still_well_formed(server):
    with server.client() as client:
        params = {"actor": "nobody"}
        assert (
            client.get("/api/v1/activity/export", params={**params, "format": "json"}).json() == []
        )
        lines = client.get("/api/v1/activity/export", params={**params, "format": "csv"}).text
        assert lines.splitlines()[0].startswith("id,ts,category")
        assert client.get("/api/v1/activity/export", params={"format": "xml"}).status_code == 400


def test_settings_validate_persist_and_are_recorded(tmp_path):
    data = tmp_path / "data"
    with LiveServer(data) as server, server.client() as client:
        for body, field, words in (
            ({"commit_interval_s": 301}, "commit_interval_s", "must be at most 300"),
            ({"colour": "red"}, "colour", "is not a field here"),
            ({"max_days": "ten"}, "max_days", "must be a whole number, not text"),
            ({"enabled": 0}, "enabled", "must be true or false, not a whole number"),
        ):
            bad = client.put("/api/v1/activity/settings", json=body)
            assert bad.status_code == 400, bad.text
            assert bad.json()["errors"] == [{"field": field, "message": words}]
        assert client.get("/api/v1/activity/settings").json()["commit_interval_s"] == 5.0
        ok = client.put("/api/v1/activity/settings", json={"max_days": 10, "max_batch": 100})
        assert ok.status_code == 200
        assert ok.json()["max_days"] == 10
        assert server.app.state.activity_recorder.settings.max_batch == 100
    with LiveServer(data) as server, server.client() as client:
        assert client.get("/api/v1/activity/settings").json()["max_days"] == 10
    changed = rows(
        data / "ledgrab.db",
        "SELECT category, actor, message FROM activity_log WHERE action = 'settings.updated'",
    )
    assert changed == [("entity", "admin", "Activity log settings changed: max_batch, max_days")]


def test_clear_empties_the_log_and_its_first_entry_says_who(tmp_path):
    with LiveServer(tmp_path / "data") as server, server.client() as client:
        recorder = server.app.state.activity_recorder
        for i in range(50):
            recorder.record("system", "x.y", message=str(i))
        recorder.flush_blocking()
        before = client.get("/api/v1/activity/stats").json()["total"]
        recorder.record("system", "still.pending", message="waiting")
        assert client.delete("/api/v1/activity").status_code == 204
        page = client.get("/api/v1/activity").json()
        assert page["total"] == 1
        (entry,) = page["items"]
        assert (entry["action"], entry["actor"]) == ("activity.cleared", "admin")
        assert entry["metadata"]["removed"] == before + 1  # the stored ones and the pending one
        stats = client.get("/api/v1/activity/stats").json()
        assert stats["total"] == 1 and stats["by_category"] == {"system": 1}
        assert stats["state"] == "ok" and stats["pending"] == 0
