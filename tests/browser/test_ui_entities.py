"""Devices, sources and targets in a real browser: create each through its form (the API's own
validation message lands next to the field it concerns), start the target and watch the
dashboard preview draw its pixels and move."""

import re

from playwright.sync_api import expect

from tests.support.live_server import wait_for


def _field_error(page, form_id: str, field: str):
    field_box = "xpath=ancestor::div[contains(concat(' ', @class, ' '), ' field ')][1]"
    return page.locator(f"#{form_id} [name='{field}']").locator(field_box).locator(".field-error")


def _canvas_pixel(page, target_id: str, index: int) -> list[int]:
    return page.evaluate(
        """([id, index]) => {
            const canvas = document.querySelector(`.target[data-id="${id}"] canvas`);
            return Array.from(canvas.getContext('2d').getImageData(index, 0, 1, 1).data);
        }""",
        [target_id, index],
    )


def test_create_device_source_target_start_and_preview(ui, server):
    # Two more tabs watch without reloading: the Activity tab and the dashboard's widget.
    watch = ui.signed_in("/#/activity")
    dash = ui.signed_in("/#/dashboard")
    page = ui.signed_in("/#/devices")
    ui.allowed_errors.append("status of 400")  # the refused submissions below

    page.get_by_role("button", name="New device").click()
    page.get_by_label("Name", exact=True).fill("Desk strip")
    page.get_by_label("LED count").fill("0")
    page.get_by_role("button", name="Create device").click()
    error = _field_error(page, "device-form", "led_count")
    error.filter(has_text="LED count must be at least 1").wait_for()  # the browser's own check
    assert page.locator("#device-form [name=led_count]").get_attribute("aria-invalid") == "true"
    page.get_by_label("LED count").fill("12")
    page.get_by_role("button", name="Create device").click()
    page.locator("#device-table tr[data-name='Desk strip']").wait_for()
    ui.shot(page, "devices")

    page.goto(server.base_url + "/#/sources")
    page.get_by_role("button", name="New source").click()
    page.get_by_label("Name", exact=True).fill("Warm")
    page.get_by_label("Kind").select_option("static")
    page.locator("details.advanced summary").click()
    params = page.get_by_label("Parameters as JSON")
    # The kind's defaults, from its fields: filled in once the kind's form is built.
    expect(params).to_have_value(re.compile('"color"'))
    params.fill('{"color": "orange"}')
    page.get_by_role("button", name="Create source").click()
    # The server's message lands next to the generated Color field.
    _field_error(page, "source-form", "p.static.color").filter(
        has_text="must be a colour like #ff8800"
    ).wait_for()
    page.locator("details.advanced summary").click()  # closed: the fields are sent again
    page.locator("#source-form [name='p.static.color']").fill("#ff8800")
    page.get_by_role("button", name="Create source").click()
    page.locator("#source-table tr[data-name='Warm']").wait_for()
    ui.shot(page, "sources")

    page.goto(server.base_url + "/#/targets")
    page.get_by_role("button", name="New target").click()
    page.get_by_label("Name", exact=True).fill("Desk")
    page.get_by_label("Device", exact=True).select_option(label="Desk strip")
    page.get_by_label("Source", exact=True).select_option(label="Warm")
    page.get_by_label("FPS", exact=True).fill("20")
    page.get_by_role("button", name="Create target").click()
    row = page.locator("#target-table tr[data-name='Desk']")
    row.wait_for()
    assert "stopped" in row.inner_text()
    row.get_by_role("button", name="Start").click()
    row.locator(".badge.running").wait_for()
    ui.shot(page, "targets")

    with server.client() as client:
        target = next(t for t in client.get("/api/v1/targets").json() if t["name"] == "Desk")
        assert target["running"] is True and target["fps"] == 20

    page.goto(server.base_url + "/#/dashboard")
    canvas = page.locator(f'.target[data-id="{target["id"]}"] canvas')
    wait_for(lambda: int(canvas.get_attribute("data-frame") or 0) >= 2, what="preview frames")
    assert canvas.get_attribute("width") == "12"
    assert _canvas_pixel(page, target["id"], 0) == [0xFF, 0x88, 0x00, 0xFF]
    assert _canvas_pixel(page, target["id"], 11) == [0xFF, 0x88, 0x00, 0xFF]
    dash_row = page.locator(f'.target[data-id="{target["id"]}"]')
    dash_row.filter(has_text="fps").wait_for()

    # The demo rainbow moves: its preview shows different pixels over time.
    demo = page.locator(".target", has_text="Demo").locator("canvas")
    first = demo.get_attribute("data-pixels")
    wait_for(lambda: demo.get_attribute("data-pixels") not in (None, first), what="motion")
    ui.shot(page, "dashboard")

    dash_row.get_by_role("button", name="Stop Desk").click()
    dash_row.locator(".badge.stopped").wait_for()
    with server.client() as client:
        assert client.get(f"/api/v1/targets/{target['id']}/state").json()["running"] is False
    desk_strip = page.locator("#dash-device-list .list-item", has_text="Desk strip")
    desk_strip.locator(".badge", has_text="idle").wait_for()  # no target drives it now

    # Each step is an entry that reached the other tabs live, newest first, by the admin key.
    expected = [
        'Device "Desk strip" created',
        'Source "Warm" created',
        'Target "Desk" created',
        'Target "Desk" started',
        'Target "Desk" stopped',
    ]
    for message in expected:
        watch.locator("#activity-table tr", has_text=message).wait_for()
        dash.locator("#recent-activity li", has_text=message).wait_for()
    shown = watch.locator("#activity-table td.message").all_inner_texts()
    assert [shown.index(m) for m in reversed(expected)] == sorted(shown.index(m) for m in expected)
    row = watch.locator("#activity-table tr", has_text='Device "Desk strip" created')
    assert "admin" in row.inner_text()
    ui.shot(watch, "activity-live")
    ui.shot(dash, "dashboard-live")


def test_deleting_a_device_in_use_shows_the_conflict(ui, server):
    page = ui.signed_in("/#/devices")
    ui.allowed_errors.append("status of 409")
    row = page.locator("#device-table tr[data-name='Virtual strip']")
    row.get_by_role("button", name="Delete").click()
    page.locator("dialog.confirm").get_by_role("button", name="Delete").click()
    toast = page.locator("#toast.error")
    toast.wait_for()
    assert "Demo" in toast.inner_text()  # the 409 names the target that uses it
    with server.client() as client:
        assert len(client.get("/api/v1/devices").json()) == 1
