"""Settings in a real browser: API keys (create shows the key once and it works; revoke) and the
debug log viewer's live tail, which is a different thing from the activity log."""

import logging
import uuid

from tests.support.live_server import wait_for


def test_create_and_revoke_an_api_key(ui, server):
    page = ui.signed_in("/#/settings?tab=keys")
    page.get_by_label("Label for the new key").fill("phone")
    page.get_by_role("button", name="Create key").click()
    shown = page.locator(".key-once .key-value")
    shown.wait_for()
    new_key = shown.inner_text().strip()
    page.locator('.key-list [data-label="phone"]').wait_for()
    ui.shot(page, "settings-keys")

    with server.client(key=new_key) as client:  # the key shown once really works
        assert client.get("/api/v1/system/api-keys").status_code == 200

    page.locator('[data-label="phone"]').get_by_role("button", name="Revoke").click()
    page.locator("dialog.confirm").get_by_role("button", name="Revoke").click()
    page.locator('[data-label="phone"]').wait_for(state="detached")
    with server.client() as client:
        labels = [k["label"] for k in client.get("/api/v1/system/api-keys").json()]
    assert labels == ["admin"]


def test_a_refused_key_label_shows_the_servers_message(ui):
    page = ui.signed_in("/#/settings?tab=keys")
    page.get_by_label("Label for the new key").fill("admin")  # exists already: 409
    page.get_by_role("button", name="Create key").click()
    message = page.locator(".entity-form [role=alert]").filter(has_text="already exists")
    message.wait_for()
    assert "admin" in message.inner_text()
    ui.allowed_errors.append("status of 409")


def test_log_viewer_tails_the_server_log_live(ui, server):
    # Server-side subscribers (the activity log's bus adapter) are there before any browser.
    baseline = server.app.state.bus.subscriber_count
    page = ui.signed_in("/#/settings?tab=logs")
    page.locator(".log-view").wait_for()
    page.locator("#feed-status.live").wait_for()
    # The viewer has its own socket (it asks for log_record): wait until the server sees it.
    bus = server.app.state.bus
    wait_for(lambda: bus.subscriber_count >= baseline + 2, what="the log viewer's subscription")
    marker = f"ui-log-marker-{uuid.uuid4().hex[:8]}"
    logging.getLogger("ledgrab.test").warning("hello from the test: %s", marker)
    line = page.locator(".log-line", has_text=marker)
    line.wait_for()
    assert line.get_attribute("data-level") == "warning"
    ui.shot(page, "settings-logs")

    # Lower levels are filtered out by the level selector, then shown again on request.
    logger = logging.getLogger("ledgrab.test")
    logger.setLevel(logging.INFO)
    try:
        logger.info("quiet line %s", marker)
    finally:
        logger.setLevel(logging.NOTSET)
    page.locator(".log-line", has_text="quiet line").wait_for()
    page.get_by_label("Level").select_option("warning")
    page.locator(".log-line", has_text="quiet line").wait_for(state="detached")
    page.get_by_label("Level").select_option("debug")
    page.locator(".log-line", has_text="quiet line").wait_for()


def test_retention_settings_in_human_units_are_kept_and_bad_values_show_a_message(ui, server):
    page = ui.signed_in("/#/settings")
    form = page.locator("#retention-form")
    form.wait_for()
    # The bounds come from the server's schema, shown next to each field.
    days_field = form.locator("[name=max_days]").locator("xpath=..")
    assert "Allowed: 1 to 3650" in days_field.inner_text()
    page.locator("#activity-stats [data-stat=count]").wait_for()

    form.get_by_label("Keep entries for (days)").fill("30")
    form.get_by_label("Write to disk every (seconds)").fill("2.5")
    assert form.get_by_label("Keep at most (MiB)").input_value() == "64"  # 64 MiB, not bytes
    form.get_by_label("Keep at most (MiB)").fill("8")
    form.get_by_role("button", name="Save settings").click()
    page.locator("#toast", has_text="saved").wait_for()
    with server.client() as client:
        stored = client.get("/api/v1/activity/settings").json()
    assert stored["max_days"] == 30 and stored["commit_interval_s"] == 2.5
    assert stored["max_bytes"] == 8 * 1024 * 1024

    page.reload()
    form = page.locator("#retention-form")
    form.wait_for()
    assert form.get_by_label("Keep entries for (days)").input_value() == "30"
    assert form.get_by_label("Write to disk every (seconds)").input_value() == "2.5"

    form.get_by_label("Keep entries for (days)").fill("0")
    form.get_by_role("button", name="Save settings").click()
    error = days_field.locator(".field-error")
    error.filter(has_text="Keep entries for (days) must be at least 1").wait_for()
    ui.shot(page, "settings-retention-refused")
    with server.client() as client:
        assert client.get("/api/v1/activity/settings").json()["max_days"] == 30


def test_keyboard_only_sign_in_and_navigation(ui, server):
    with server.client() as client:  # the startup entry is batched: wait until it is written
        wait_for(lambda: client.get("/api/v1/activity").json()["items"], what="an entry")
    page = ui.open("/")
    page.get_by_label("API key").wait_for()
    page.keyboard.type(server.api_key)  # the key field has the focus
    page.keyboard.press("Enter")
    page.locator("#feed-status.live").wait_for()
    for _ in range(40):  # Tab through the header until the Activity link has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement?.dataset?.route") == "activity":
            break
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Activity").wait_for()
    page.locator("#activity-table tbody tr[data-id]").first.focus()
    page.keyboard.press("Enter")
    page.locator("dialog.entry-detail").wait_for()
    page.keyboard.press("Escape")
    page.locator("dialog.entry-detail").wait_for(state="detached")
