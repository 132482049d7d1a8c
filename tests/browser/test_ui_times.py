"""Times follow the browser's locale, a "24-hour clock" setting overrides its 12-hour choice,
and the UTC offset is on hover."""

from __future__ import annotations


def test_times_are_local_with_a_24_hour_option_and_the_offset_on_hover(ui, server):
    context = ui.browser.new_context(
        locale="en-US", timezone_id="America/New_York", ignore_https_errors=True
    )
    page = context.new_page()
    ui.pages.append(page)
    page.goto(server.base_url + "/#/activity")
    ui.sign_in(page)
    first = page.locator("#activity-table tbody tr[data-id] time").first
    first.wait_for()
    assert first.inner_text().endswith(("AM", "PM"))  # en-US: 12-hour
    assert "UTC-05:00" in first.get_attribute("title")  # New York in December
    page.goto(server.base_url + "/#/settings")
    page.locator("#hour24 input").check()
    page.goto(server.base_url + "/#/activity")
    first = page.locator("#activity-table tbody tr[data-id] time").first
    first.wait_for()
    text = first.inner_text()
    assert not text.endswith(("AM", "PM")), text
