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
