"""The Activity tab and the dashboard widget in a real browser: cursor paging, filters kept in the
address, live entries (with pause and a count), an entry's metadata, exports whose rows match the
filters, and clearing behind a confirmation. Entries come from the server's real recorder."""

from __future__ import annotations

import csv
import io
import json

from tests.support.live_server import wait_for


def _record(server, n: int, *, category: str, word: str, severity: str = "info") -> None:
    recorder = server.app.state.activity_recorder
    for i in range(n):
        recorder.record(
            category,
            f"{category}.test",
            severity=severity,
            actor="tester",
            entity_type="device" if category == "device" else None,
            entity_id=f"dev_{i % 3}" if category == "device" else None,
            message=f"{word} entry {i} of {category}",
            metadata={"index": i, "word": word},
        )


def _commit_at_once(server) -> None:
    """Entries are batched (commit_interval_s); make each one visible to the list at once."""
    with server.client() as client:
        response = client.put("/api/v1/activity/settings", json={"commit_interval_s": 0})
        assert response.status_code == 200, response.text


def _ids(client, **params) -> list[str]:
    ids, cursor = [], None
    while True:
        page = client.get("/api/v1/activity", params={**params, "limit": 500, "cursor": cursor})
        assert page.status_code == 200, page.text
        body = page.json()
        ids += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return ids


def _rows(page) -> list[str]:
    return page.locator("#activity-table tbody tr[data-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )


def test_paging_filters_live_entries_detail_and_export(ui, server, tmp_path):
    _commit_at_once(server)
    _record(server, 40, category="system", word="alpha")
    _record(server, 25, category="device", word="beta")
    _record(server, 5, category="device", word="alpha", severity="warning")
    with server.client() as client:
        wait_for(lambda: len(_ids(client)) >= 71, what="the seeded entries")
        everything = _ids(client)

    page = ui.signed_in("/#/activity")
    page.locator("#activity-total").filter(has_text="entries").wait_for()
    assert f"{len(everything)} entries" == page.locator("#activity-total").inner_text()
    wait_for(lambda: len(_rows(page)) == 50, what="the first page")
    page.get_by_role("button", name="Load more").dblclick()  # an impatient user: one page only
    wait_for(lambda: len(_rows(page)) == len(everything), what="the second page")
    page.wait_for_function("() => !document.querySelector('#activity-more').disabled")
    assert _rows(page) == everything  # newest first, no gaps or duplicates across the cursor
    assert page.locator("#activity-more").is_hidden()

    # Filter: category device + text "alpha" (the address keeps them across a reload).
    page.get_by_label("device", exact=True).check()
    page.get_by_label("Message contains").fill("alpha")
    page.get_by_label("Message contains").press("Enter")
    with server.client() as client:
        expected = _ids(client, category="device", message_like="alpha")
    assert len(expected) == 5
    wait_for(lambda: _rows(page) == expected, what="the filtered rows")
    assert "category=device" in page.url and "q=alpha" in page.url
    page.reload()
    wait_for(lambda: _rows(page) == expected, what="the filtered rows after a reload")
    assert page.get_by_label("device", exact=True).is_checked()
    ui.shot(page, "activity-filtered")

    # Live: a matching entry appears at the top; one that does not match stays away.
    _record(server, 1, category="device", word="alpha live")
    _record(server, 1, category="system", word="alpha elsewhere")
    top = page.locator("#activity-table tbody tr").first
    top.filter(has_text="alpha live").wait_for()
    assert page.locator("#activity-table tr", has_text="alpha elsewhere").count() == 0

    # Paused: new entries are counted, not shown; resuming shows them.
    page.get_by_role("button", name="Pause live").click()
    _record(server, 2, category="device", word="alpha paused")
    page.locator("#activity-pending").filter(has_text="2 new while paused").wait_for()
    assert page.locator("#activity-table tr", has_text="alpha paused").count() == 0
    page.get_by_role("button", name="Resume live").click()
    wait_for(
        lambda: page.locator("#activity-table tr", has_text="alpha paused").count() == 2,
        what="the entries that arrived while paused",
    )

    # An entry's detail shows its metadata.
    page.locator("#activity-table tr", has_text="alpha entry 3 of device").click()
    dialog = page.locator("dialog.entry-detail")
    dialog.wait_for()
    meta = json.loads(dialog.locator("[data-field=metadata]").inner_text())
    stamp = meta.pop("clock")  # the recorder's clock stamp (test_clock_honest pins it)
    assert meta == {"index": 3, "word": "alpha"}
    assert stamp[1] == server.app.state.system_clock.boot_tag
    assert dialog.locator("[data-field=actor]").inner_text() == "tester"
    ui.shot(page, "activity-detail")
    dialog.get_by_role("button", name="Close").click()

    # Exports apply the current filters: their rows are exactly the list's rows.
    with server.client() as client:
        expected = _ids(client, category="device", message_like="alpha")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export CSV").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == expected
    assert all(r["category"] == "device" and "alpha" in r["message"] for r in rows)

    with page.expect_download() as info:
        page.get_by_role("button", name="Export JSON").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert [e["id"] for e in exported] == expected


def test_clear_log_asks_first(ui, server):
    _commit_at_once(server)
    _record(server, 3, category="system", word="old")
    with server.client() as client:
        wait_for(lambda: len(_ids(client, message_like="old")) == 3, what="seeded entries")
    page = ui.signed_in("/#/activity")
    page.locator("#activity-table tr", has_text="old entry 2").wait_for()

    page.get_by_role("button", name="Clear log…").click()
    page.locator("dialog.confirm").get_by_role("button", name="Cancel").click()
    with server.client() as client:
        assert len(_ids(client, message_like="old")) == 3  # cancelled: nothing happened

    page.get_by_role("button", name="Clear log…").click()
    page.locator("dialog.confirm").get_by_role("button", name="Clear log").click()
    page.locator("#activity-table tr", has_text="old entry").first.wait_for(state="detached")
    with server.client() as client:
        remaining = client.get("/api/v1/activity").json()["items"]
    assert len(remaining) == 1 and remaining[0]["actor"] == "admin"  # who cleared it
    page.locator(f'#activity-table tr[data-id="{remaining[0]["id"]}"]').wait_for()


def test_dashboard_widget_is_live_and_links_to_the_filtered_tab(ui, server):
    _commit_at_once(server)
    page = ui.signed_in("/#/dashboard")
    page.locator("#recent-activity li").first.wait_for()
    _record(server, 1, category="device", word="widget")
    item = page.locator("#recent-activity li", has_text="widget entry 0 of device")
    item.wait_for()
    ui.shot(page, "dashboard-recent")
    item.get_by_role("link").click()
    page.locator("dialog.entry-detail").wait_for()
    assert "entity_type=device" in page.url and "entity_id=dev_0" in page.url
    page.locator("dialog.entry-detail").get_by_role("button", name="Close").click()
    wait_for(lambda: len(_rows(page)) >= 1, what="the filtered table")
    with server.client() as client:
        assert _rows(page) == _ids(client, entity_type="device", entity_id="dev_0")


def test_a_text_search_past_the_read_bound_says_so_and_loads_older(ui, server, monkeypatch):
    from ledgrab.storage import activity_query

    _commit_at_once(server)
    _record(server, 1, category="system", word="needle")
    _record(server, 30, category="system", word="hay")
    with server.client() as client:
        wait_for(lambda: len(_ids(client, message_like="hay")) == 30, what="seeded entries")
    monkeypatch.setattr(activity_query, "SCAN_ROWS", 10)  # the server runs in this process

    page = ui.signed_in("/#/activity?q=needle")
    page.locator("#activity-table td", has_text="No matches among the newest entries").wait_for()
    assert page.locator("#activity-total").inner_text() == "0+ entries (counted among the newest)"
    more = page.locator("#activity-more")
    for _ in range(5):  # each click reads ten more entries
        if page.locator("#activity-table tr", has_text="needle entry 0").count():
            break
        more.click()
        # The button is disabled while its page loads: a second click cannot append it twice.
        page.wait_for_function("() => !document.querySelector('#activity-more').disabled")
    page.locator("#activity-table tr", has_text="needle entry 0").wait_for()
    assert len(_rows(page)) == 1
