"""A target whose device cannot open (a ws281x strip on a machine without the hardware) shows
`failed` with its reason as red text on the Dashboard and the Targets page, and its `target.error`
entry appears in Recent Activity; a running one stays green."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.support.entities import start_static_target
from tests.support.live_server import LiveServer, wait_for


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    engine = {"leds_dev_dir": str(tmp_path / "no-leds"), "reconnect_initial_s": 0.2,
              "reconnect_max_s": 0.5}  # fmt: skip
    with LiveServer(tmp_path / "data", engine=engine) as live:
        yield live


def _failing_target(server) -> str:
    with server.client() as client:
        device = {"type": "ws281x", "name": "Porch strip", "led_count": 3}
        target_id, _ = start_static_target(client, device, "#ff0000", name="Porch")
        wait_for(
            lambda: client.get(f"/api/v1/targets/{target_id}/state").json()["status"] == "failed",
            what="the target to fail",
        )
        return target_id


def _colour(locator) -> str:
    return locator.evaluate("el => getComputedStyle(el).color")


def test_a_failing_target_shows_its_reason_in_red_on_both_pages(ui, server):
    target_id = _failing_target(server)
    page = ui.signed_in("/#/")
    row = page.locator(f'#dash-target-list [data-id="{target_id}"]')
    badge = row.locator('[data-role="state"]')
    badge.filter(has_text="failed").wait_for()
    reason = row.locator('[data-role="last-error"]')
    assert "cannot open the device" in reason.inner_text()
    assert reason.is_visible()
    red = _colour(badge)
    assert red.startswith("rgb("), red
    expect(reason).to_have_css("color", red)
    demo = page.locator("#dash-target-list .target", has_text="Demo")
    running = demo.locator('[data-role="state"]')
    running.filter(has_text="running").wait_for()
    assert _colour(running) != red
    recent = page.locator("#recent-activity li", has_text='Target "Porch" failed')
    recent.first.wait_for()
    assert recent.count() == 1
    ui.shot(page, "dashboard-failed-target")

    page.goto(server.base_url + "/#/targets")
    cell = page.locator(f'#target-table tr[data-id="{target_id}"] [data-role="status"]')
    cell.locator('[data-role="state"]', has_text="failed").wait_for()
    reason = cell.locator('[data-role="last-error"]')
    assert "cannot open the device" in reason.inner_text()
    # The retrying target redraws its row; expect() reads the colour again if the cell was
    # replaced between two reads (a replaced element has no computed style).
    expect(reason).to_have_css("color", red)
    demo_cell = page.locator('#target-table tr[data-name="Demo"] [data-role="state"]')
    assert demo_cell.inner_text() == "running"
    ui.shot(page, "targets-failed-target")
