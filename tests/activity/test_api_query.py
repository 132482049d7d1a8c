"""GET /api/v1/activity: every filter alone and combined against a brute-force filter of the same
rows; keyset paging stays exact while entries arrive; bad parameters get a 400 with a reason."""

from __future__ import annotations

import base64
import itertools
import json
import random
import threading
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.live_server import LiveServer

CATEGORIES = ["entity", "auth", "device", "system"]
SEVERITIES = ["info", "warning", "error", "critical"]
ACTORS = ["admin", "system", "tablet"]


@pytest.fixture
def seeded(tmp_path):
    """A server holding 300 varied entries; yields (server, entries oldest first)."""
    with LiveServer(tmp_path / "data") as server:
        recorder = server.app.state.activity_recorder
        rng = random.Random(5)
        for i in range(300):
            recorder.record(
                rng.choice(CATEGORIES),
                "test.entry",
                severity=rng.choice(SEVERITIES),
                actor=rng.choice(ACTORS),
                entity_type=rng.choice(["device", "target", None]),
                entity_id=rng.choice(["d1", "d2", None]),
                message=rng.choice(["100% bright", "a_b c", "plain", "Desk strip"]) + f" #{i}",
            )
        recorder.flush_blocking()
        with server.client() as client:
            everything = _all_pages(client, {})
        yield server, list(reversed(everything))


def _all_pages(client, params, limit=37) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get("/api/v1/activity", params={**params, "limit": limit, "cursor": cursor})
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            assert body["total"] == len(items)
            return items


def _matches(entry: dict, params: dict) -> bool:
    ts = datetime.fromisoformat(entry["ts"])
    checks = {
        "category": lambda v: entry["category"] in v,
        "severity": lambda v: entry["severity"] in v,
        "actor": lambda v: entry["actor"] == v,
        "entity_type": lambda v: entry["entity_type"] == v,
        "entity_id": lambda v: entry["entity_id"] == v,
        "since": lambda v: ts >= datetime.fromisoformat(v),
        "until": lambda v: ts <= datetime.fromisoformat(v),
        "message_like": lambda v: v.lower() in entry["message"].lower(),
    }
    return all(checks[k](v) for k, v in params.items())


def _filter_cases(entries: list[dict]) -> list[dict]:
    middle = datetime.fromisoformat(entries[len(entries) // 3]["ts"])
    later = datetime.fromisoformat(entries[2 * len(entries) // 3]["ts"])
    singles = [
        {"category": ["auth"]},
        {"category": ["auth", "device"]},
        {"severity": ["error", "critical"]},
        {"actor": "tablet"},
        {"entity_type": "device"},
        {"entity_id": "d2"},
        {"since": middle.isoformat()},
        {"until": later.astimezone(timezone_plus2()).isoformat()},
        {"message_like": "100%"},
        {"message_like": "a_b"},
        {"message_like": "DESK"},
    ]
    combos = [a | b for a, b in itertools.combinations(singles[::2], 2)]
    everything = {k: v for case in singles[:9] for k, v in case.items()}
    return [*singles, *combos, everything]


def timezone_plus2():
    from datetime import timezone

    return timezone(timedelta(hours=2))


def test_every_filter_alone_and_combined_equals_a_brute_force_filter(seeded):
    server, entries = seeded
    newest_first = list(reversed(entries))
    with server.client() as client:
        for params in _filter_cases(entries):
            expected = [e["id"] for e in newest_first if _matches(e, params)]
            got = [e["id"] for e in _all_pages(client, params)]
            assert got == expected, params


def test_entries_have_the_eleven_fields_in_order(seeded):
    server, entries = seeded
    # the 11 fields of the entry, then whether it is on the card yet (all of these are) and
    # its clock as read (test_clock_honest)
    assert list(entries[0]) == [
        "id", "ts", "category", "action", "severity", "actor", "message",
        "entity_type", "entity_id", "entity_name", "metadata", "durable",
        "clock_synchronised", "ts_corrected",
    ]  # fmt: skip
    assert all(e["durable"] is True for e in entries)
    with server.client() as client:
        one = client.get(f"/api/v1/activity/{entries[5]['id']}")
        assert one.json() == entries[5]
        assert client.get("/api/v1/activity/nope").status_code == 404


BAD_PARAMETERS = [
    ({"category": "bogus"}, "bogus"),
    ({"severity": "loud"}, "loud"),
    ({"limit": 501}, "500"),
    ({"limit": 0}, "1"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"since": "2026-01-01T00:00:00"}, "UTC offset"),
    ({"since": "yesterday"}, "since"),
    ({"until": "0.5"}, "until"),  # a number is not a time
]


def test_since_after_until_matches_nothing(server):
    with server.client() as client:
        params = {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
        response = client.get("/api/v1/activity", params=params)
        assert response.status_code == 200 and response.json()["items"] == []


def test_bad_parameters_get_a_400_that_says_why(server):
    with server.client() as client:
        for params, needle in BAD_PARAMETERS:
            response = client.get("/api/v1/activity", params=params)
            assert response.status_code == 400, params
            assert needle in response.text, params


def test_paging_is_exact_while_entries_arrive(tmp_path):
    with LiveServer(tmp_path / "data") as server:
        recorder = server.app.state.activity_recorder
        for i in range(200):
            recorder.record("system", "before.paging", message=f"old {i}")
        recorder.flush_blocking()
        stop = threading.Event()

        def writer() -> None:
            n = 0
            while not stop.is_set():
                recorder.record("system", "during.paging", message=f"new {n}")
                n += 1
                if n % 20 == 0:
                    recorder.flush_blocking()

        thread = threading.Thread(target=writer)
        with server.client() as client:
            first = client.get("/api/v1/activity", params={"limit": 9}).json()
            thread.start()
            try:
                seen = list(first["items"])
                cursor = first["next_cursor"]
                while cursor:
                    page = client.get("/api/v1/activity", params={"limit": 9, "cursor": cursor})
                    seen += page.json()["items"]
                    cursor = page.json()["next_cursor"]
            finally:
                stop.set()
                thread.join()
    ids = [e["id"] for e in seen]
    assert len(ids) == len(set(ids))
    assert [e["message"] for e in seen if e["action"] == "before.paging"] == [
        f"old {i}" for i in reversed(range(200))
    ]
    assert all(e["action"] != "during.paging" for e in seen)


def test_the_api_needs_a_key(server):
    with server.client(key=None) as client:
        assert client.get("/api/v1/activity").status_code == 401
        assert client.get("/api/v1/activity/export").status_code == 401


def test_since_accepts_any_offset(seeded):
    server, entries = seeded
    moment = datetime.fromisoformat(entries[100]["ts"]).astimezone(UTC)
    with server.client() as client:
        a = _all_pages(client, {"since": moment.isoformat()})
        b = _all_pages(client, {"since": moment.astimezone(timezone_plus2()).isoformat()})
    assert a == b and len(a) == len(entries) - 100


def test_a_text_search_past_the_read_bound_gives_a_lower_bound_and_resumes(seeded, monkeypatch):
    from ledgrab.storage import activity_query

    server, entries = seeded
    monkeypatch.setattr(activity_query, "SCAN_ROWS", 40)  # the server runs in this process
    expected = [e["id"] for e in reversed(entries) if "plain" in e["message"]]
    with server.client() as client:
        first = client.get("/api/v1/activity", params={"message_like": "PLAIN", "limit": 500})
        body = first.json()
        assert body["total_exact"] is False
        newest_40 = [e for e in reversed(entries)][:40]
        assert body["total"] == sum("plain" in e["message"] for e in newest_40)
        got, cursor = [e["id"] for e in body["items"]], body["next_cursor"]
        while cursor:  # every response reads at most 40 entries, short pages included
            page = client.get(
                "/api/v1/activity", params={"message_like": "PLAIN", "limit": 500, "cursor": cursor}
            ).json()
            assert page["total"] == body["total"] and page["total_exact"] is False
            got += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
    assert got == expected


def test_empty_filter_values_mean_no_filter_and_old_cursors_still_work(seeded):
    from ledgrab.storage.activity_query import encode_cursor

    server, entries = seeded
    with server.client() as client:
        blank = {"actor": "", "entity_type": "", "entity_id": "", "message_like": ""}
        assert _all_pages(client, blank) == list(reversed(entries))
        old_style = base64.urlsafe_b64encode(b"a1:100:300").decode().rstrip("=")
        page = client.get("/api/v1/activity", params={"cursor": old_style}).json()
        assert page["total"] == 300 and page["total_exact"] is True
        assert page["items"][0] == entries[98]  # seqs start at 1, so seq 99 is entries[98]
        assert page["items"][-1] == entries[49]  # 50 entries: seqs 99 down to 50
        assert page["next_cursor"] == encode_cursor(50, 300, exact=True)
        tampered = base64.urlsafe_b64encode(b"a1:100:300:7").decode().rstrip("=")
        assert client.get("/api/v1/activity", params={"cursor": tampered}).status_code == 400


def test_text_search_folds_case_beyond_ascii(server):
    recorder = server.app.state.activity_recorder
    messages = (
        'Device "Küche" connected',
        'Device "ГОСТИНАЯ" lost',
        "Desk on",
        'Target "Гостиная Лампа" started',
    )
    for message in messages:
        recorder.record("device", "test.entry", message=message)
    recorder.flush_blocking()
    with server.client() as client:
        for needle, expected in (
            ("küche", ['Device "Küche" connected']),
            ("KÜCHE", ['Device "Küche" connected']),
            ("гостиная", ['Target "Гостиная Лампа" started', 'Device "ГОСТИНАЯ" lost']),
            ("DESK", ["Desk on"]),
            ("ГОСТИНАЯ ЛАМПА", ['Target "Гостиная Лампа" started']),
        ):
            body = client.get("/api/v1/activity", params={"message_like": needle}).json()
            assert [e["message"] for e in body["items"]] == expected, needle
            assert (body["total"], body["total_exact"]) == (len(expected), True)
            export = client.get(
                "/api/v1/activity/export", params={"format": "ndjson", "message_like": needle}
            )
            assert [json.loads(line)["message"] for line in export.text.splitlines()] == expected
