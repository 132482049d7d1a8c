"""Read your own writes: entries the recorder still holds are in the list, its total, one-entry
reads and the stats, with the same filters and order, marked `durable: false`; the export
commits them first; and paging stays exact (no duplicate, no gap) when a commit lands between
two pages."""

from __future__ import annotations

import pytest

from tests.support.live_server import LiveServer


@pytest.fixture
def slow_commits(tmp_path):
    """A server whose recorder holds entries for 300 s (unless something else commits)."""
    with LiveServer(tmp_path / "data", demo_on_first_start=False) as live:
        with live.client() as client:
            body = {"commit_interval_s": 300, "max_batch": 10_000}
            assert client.put("/api/v1/activity/settings", json=body).status_code == 200
        live.app.state.activity_recorder.flush_blocking()  # what start-up recorded: stored
        yield live


def _record(server, n: int, word: str, *, category: str = "system") -> list[str]:
    recorder = server.app.state.activity_recorder
    ids = []
    for i in range(n):
        entry = recorder.record(
            category, f"{category}.test", actor="tester", message=f"{word} {i}",
            entity_type="device", entity_id=f"dev_{i % 2}", metadata={"i": i},
        )  # fmt: skip
        ids.append(entry.id)
    return ids


def _pages(client, params: dict, limit: int, between=None) -> list[dict]:
    items, cursor, page = [], None, 0
    while True:
        response = client.get(
            "/api/v1/activity", params={**params, "limit": limit, "cursor": cursor}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items
        page += 1
        if between is not None:
            between(page)


def test_waiting_entries_are_listed_counted_and_marked(slow_commits):
    server = slow_commits
    stored = _record(server, 4, "stored")
    server.app.state.activity_recorder.flush_blocking()
    waiting = _record(server, 3, "waiting")
    with server.client() as client:
        body = client.get("/api/v1/activity", params={"actor": "tester"}).json()
        # newest first: the waiting ones above the stored ones, each saying where it is
        assert [e["id"] for e in body["items"]] == waiting[::-1] + stored[::-1]
        assert [e["durable"] for e in body["items"]] == [False] * 3 + [True] * 4
        assert body["total"] == 7

        one = client.get(f"/api/v1/activity/{waiting[1]}")
        assert one.status_code == 200 and one.json()["durable"] is False
        assert one.json()["message"] == "waiting 1"

        stats = client.get("/api/v1/activity/stats").json()
        everything = client.get("/api/v1/activity", params={"limit": 500}).json()
        assert stats["total"] == everything["total"] == len(everything["items"])
        assert stats["pending"] == sum(not e["durable"] for e in everything["items"])
        assert sum(stats["by_category"].values()) == everything["total"]
        assert sum(stats["by_severity"].values()) == everything["total"]

        # The export commits what waits first: every entry in it has its seq and chain value.
        exported = client.get(
            "/api/v1/activity/export", params={"format": "json", "actor": "tester"}
        ).json()
        assert [e["id"] for e in exported] == waiting[::-1] + stored[::-1]
        assert all(isinstance(e["seq"], int) and e["chain"] for e in exported)
        assert server.app.state.activity_recorder.pending == 0
        after = client.get("/api/v1/activity", params={"actor": "tester"}).json()["items"]
        assert [e["durable"] for e in after] == [True] * 7


def test_filters_apply_to_waiting_entries_as_to_stored_ones(slow_commits):
    server = slow_commits
    _record(server, 6, "Kitchen", category="device")
    _record(server, 5, "Küche", category="system")
    server.app.state.activity_recorder.flush_blocking()
    _record(server, 6, "Kitchen", category="device")
    _record(server, 5, "Küche", category="system")
    cases = [
        {"category": "device"},
        {"message_like": "KITCHEN"},
        {"message_like": "KÜCHE"},
        {"entity_id": "dev_1", "category": "system"},
        {"actor": "nobody"},
    ]
    with server.client() as client:
        for params in cases:
            items = _pages(client, params, limit=500)
            assert {e["durable"] for e in items} <= {True, False}
            stored = [e for e in items if e["durable"]]
            waiting = [e for e in items if not e["durable"]]
            # what matched among the stored ones matches the same way among the waiting ones
            assert [e["message"] for e in waiting] == [e["message"] for e in stored], params
            total = client.get("/api/v1/activity", params=params).json()["total"]
            assert total == len(items), params


@pytest.mark.parametrize("commit_after_page", [1, 2, 3])
def test_paging_across_a_commit_has_no_duplicate_and_no_gap(slow_commits, commit_after_page):
    server = slow_commits
    recorder = server.app.state.activity_recorder
    with server.client() as client:
        before = [e["id"] for e in _pages(client, {}, limit=500)]
    _record(server, 5, "stored")
    recorder.flush_blocking()
    _record(server, 7, "waiting")  # 7 waiting, pages of 3: the commit lands inside them

    def commit(page: int) -> None:
        if page == commit_after_page:
            recorder.flush_blocking()

    with server.client() as client:
        expected = [e["id"] for e in _pages(client, {}, limit=500)]
        assert expected[12:] == before
        got = [e["id"] for e in _pages(client, {}, limit=3, between=commit)]
        assert not recorder.unwritten()  # the commit did happen while paging
    assert got == expected


def test_a_cursor_below_an_entry_that_was_cleared_ends_the_paging(slow_commits):
    server = slow_commits
    _record(server, 5, "waiting")
    with server.client() as client:
        first = client.get("/api/v1/activity", params={"limit": 2}).json()
        assert first["next_cursor"]
        assert client.delete("/api/v1/activity").status_code == 204
        after = client.get("/api/v1/activity", params={"cursor": first["next_cursor"]})
        assert after.status_code == 200
        assert after.json()["items"] == [] and after.json()["next_cursor"] is None
        # "p1:zz:x:1": a total that is not a number
        bad = client.get("/api/v1/activity", params={"cursor": "cDE6eno6eDox"})
        assert bad.status_code == 400
