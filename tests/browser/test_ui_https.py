"""The UI over HTTPS in Chromium, with the device's certificate accepted: a secure context, the
events feed on wss://, the clipboard button, and the fingerprint shown in Settings."""

from __future__ import annotations


def test_the_ui_is_a_secure_context_with_a_wss_feed_and_the_fingerprint(ui, server):
    page = ui.signed_in("/#/settings?tab=https")  # signed_in waits for the live events feed
    assert page.evaluate("location.protocol") == "https:"
    assert page.evaluate("window.isSecureContext") is True
    shown = page.locator("#tls-fingerprint")
    shown.wait_for()
    assert shown.inner_text().strip() == server.fingerprint
    assert "HTTPS (encrypted)" in page.locator("#https-info").inner_text()
    ui.shot(page, "settings-https")


def test_the_copy_button_puts_a_new_key_on_the_clipboard(ui, server):
    page = ui.signed_in("/#/settings?tab=keys")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    page.get_by_label("Label for the new key").fill("tablet")
    page.get_by_role("button", name="Create key").click()
    shown = page.locator(".key-once .key-value")
    shown.wait_for()
    page.locator(".key-once").get_by_role("button", name="Copy").click()
    page.get_by_text("Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == shown.inner_text().strip()
