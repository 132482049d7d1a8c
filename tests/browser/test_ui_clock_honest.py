"""On a board whose clock is not synchronised: an entry made then is marked "clock not
synchronised" on the Activity tab and the Dashboard; the top bar offers to set the clock from
the browser, which the helper does and the log records with who; once a time server answers,
the same entry is shown with its corrected time, marked as corrected. The board's clock and
sync flag are injected; this machine's clock is never set."""

from __future__ import annotations

import pytest

from tests.support.board_clock import BoardClock, ClockHelper
from tests.support.live_server import LiveServer, wait_for

DEVICE = {"name": "Shelf", "type": "ddp", "address": "127.0.0.1", "port": 4048, "led_count": 30}


@pytest.fixture
def server(tmp_path):
    """A server on a board 30 days late (the `ui` fixture serves this one)."""
    live = LiveServer(
        tmp_path / "data",
        clock={"check_s": 0.05, "request_dir": str(tmp_path / "run"), "set_timeout_s": 5.0},
    )
    live.board = BoardClock(live.app.state.system_clock, behind_s=30 * 86_400)
    live.run_dir = tmp_path / "run"
    with live:
        yield live


def test_unsynchronised_entries_are_marked_the_clock_can_be_set_and_times_corrected(ui, server):
    with server.client() as client:
        device = client.post("/api/v1/devices", json=DEVICE).json()
    activity = ui.signed_in("/#/activity")
    row = activity.locator(
        f'#activity-table tr[data-category="entity"]:has-text("{DEVICE["name"]}")'
    )
    row.locator('[data-clock="unsynced"]').wait_for()
    assert row.locator('[data-clock="unsynced"]').inner_text() == "clock not synchronised"
    offer = activity.locator("#clock-set")
    offer.wait_for()
    assert activity.locator("#clock-status").inner_text() == "time not synchronised"
    ui.shot(activity, "clock-not-synchronised-entries")

    with ClockHelper(server.run_dir, server.board) as helper:
        offer.click()
        activity.locator("dialog.confirm").get_by_role("button", name="Set clock").click()
        activity.locator(".toast", has_text="Clock set to").wait_for()
    assert len(helper.calls) == 1
    with server.client() as client:
        items = client.get("/api/v1/activity", params={"category": "system"}).json()["items"]
    [set_entry] = [e for e in items if e["action"] == "system.clock_set"]
    assert set_entry["actor"] == "admin"

    dash = ui.signed_in("/#/")
    dash.locator('#recent-activity [data-clock="unsynced"]').first.wait_for()

    server.board.synchronise()  # a time server answers
    with server.client() as client:
        wait_for(
            lambda: any(
                e["action"] == "system.clock_synced"
                for e in client.get("/api/v1/activity").json()["items"]
            ),
            what="system.clock_synced",
        )
    corrected = row.locator('[data-clock="corrected"]')
    corrected.wait_for()  # the page reloads its list when the step arrives live
    assert "corrected from the later synchronisation" in corrected.get_attribute("title")
    dash.locator(
        f'#recent-activity li:has(a[href*="{device["id"]}"]) [data-clock="corrected"]'
    ).wait_for()
    ui.shot(activity, "clock-corrected-entries")
    # The open page's top bar follows the step: no badge, no offer.
    activity.wait_for_function("() => document.getElementById('clock-set').hidden === true")
    assert activity.locator("#clock-status").is_hidden()
