"""An entry recorded one second before the Activity tab and the Dashboard open (still waiting in
the recorder's buffer: commits every 300 s here) is shown on both, marked as not on the card yet;
and an entry recorded while the pages load is shown once, not twice and not never."""

from __future__ import annotations

import time


def _slow_commits(server) -> None:
    with server.client() as client:
        body = {"commit_interval_s": 300}
        assert client.put("/api/v1/activity/settings", json=body).status_code == 200
    server.app.state.activity_recorder.flush_blocking()


def _record(server, message: str) -> str:
    entry = server.app.state.activity_recorder.record(
        "system", "test.entry", actor="tester", message=message
    )
    return entry.id


def test_an_entry_recorded_just_before_the_pages_open_is_on_both(ui, server):
    _slow_commits(server)
    entry_id = _record(server, "Recorded a second before the pages opened")
    time.sleep(1)  # the scenario: the entry is a second old, not yet committed
    assert server.app.state.activity_recorder.pending >= 1

    activity = ui.signed_in("/#/activity")
    row = activity.locator(f'#activity-table tr[data-id="{entry_id}"]')
    row.wait_for()
    # Marked while it waits; an urgent entry (a sign-in's) may have carried it to the card since.
    with server.client() as client:
        durable = client.get(f"/api/v1/activity/{entry_id}").json()["durable"]
    assert ("not-durable" in row.get_attribute("class")) or durable
    assert activity.locator(f'#activity-table tr[data-id="{entry_id}"]').count() == 1
    dash = ui.signed_in("/#/")
    dash.locator(f'#recent-activity li[data-id="{entry_id}"]').wait_for()
    # While both pages are open: a new entry arrives once on each.
    live_id = _record(server, "Recorded while the pages were open")
    dash.locator(f'#recent-activity li[data-id="{live_id}"]').wait_for()
    activity.locator(f'#activity-table tr[data-id="{live_id}"]').wait_for()
    assert dash.locator(f'#recent-activity li[data-id="{live_id}"]').count() == 1
    assert activity.locator(f'#activity-table tr[data-id="{live_id}"]').count() == 1
    ui.shot(activity, "activity-waiting-entry")


def test_entries_recorded_while_the_activity_tab_loads_appear_once(ui, server):
    _slow_commits(server)
    page = ui.page()
    ids: list[str] = []

    # Every request for the first page records an entry before the server answers it.
    def record_then_continue(route):
        ids.append(_record(server, f"Recorded during load {len(ids)}"))
        route.continue_()

    page.route(lambda url: "/api/v1/activity?" in url, record_then_continue)
    page.goto(server.base_url + "/#/activity")
    ui.sign_in(page)
    page.locator("#activity-table tbody tr[data-id]").first.wait_for()
    assert ids, "the first page was requested"
    page.locator(f'#activity-table tr[data-id="{ids[-1]}"]').wait_for()
    page.wait_for_timeout(300)  # lets any late duplicate render before counting
    for entry_id in ids:
        assert page.locator(f'#activity-table tr[data-id="{entry_id}"]').count() == 1, entry_id
