"""/api/docs in Chromium with every request off 127.0.0.1 refused: the reference must be
complete without the internet (the board often has none)."""

from __future__ import annotations

from urllib.parse import urlsplit


def test_api_reference_renders_offline_with_every_operation_and_schema(ui):
    page = ui.page()
    outside: list[str] = []

    def only_local(route):
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_local)
    page.goto(ui.server.base_url + "/api/docs")
    page.get_by_role("heading", name="LedGrab").first.wait_for()
    create = page.locator(".op", has_text="/api/v1/devices").filter(has_text="POST").first
    assert "201" in create.inner_text() and "400" in create.inner_text()
    assert "bearer or apiKey" in create.inner_text()
    led_count = page.locator("#schema-WledDevice + table tr", has_text="led_count")
    assert "≥ 1" in led_count.inner_text() and "≤ 4096" in led_count.inner_text()
    page.locator("#schema-ValidationErrorBody").wait_for()
    restore = page.locator(".op", has_text="/api/v1/system/restore").first
    assert "application/vnd.sqlite3" in restore.inner_text()
    ui.shot(page, "api-docs")
    assert outside == []
