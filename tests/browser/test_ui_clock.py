"""The top bar says "time not synchronised" while /health says the clock is not, and nothing
when it is."""

from __future__ import annotations


def test_the_top_bar_says_when_the_time_is_not_synchronised(ui, server):
    server.app.state.system_clock.synchronised = lambda: False
    page = ui.signed_in("/#/")
    badge = page.locator("#clock-status")
    badge.wait_for()
    assert badge.inner_text() == "time not synchronised"
    # No clock helper is set up for this server: nothing offers to set the clock.
    assert page.locator("#clock-set").is_hidden()
    ui.shot(page, "clock-not-synchronised")
    server.app.state.system_clock.synchronised = lambda: True
    synced = ui.signed_in("/#/")
    synced.locator("#feed-status.live").wait_for()
    synced.wait_for_function("() => document.getElementById('clock-status').hidden === true")
