"""Real headless Chromium (Debian's) driven by Playwright's sync API, one browser per test."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "ui"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def browser() -> Iterator[Browser]:
    # Function-scoped on purpose: Playwright's loop stays "running" in the test thread while it
    # is started, which would make the blocking guard flag every later test in the session; and
    # its loop's executor threads would count as leaked by the next test of a wider scope.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps.sh test (installs chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class UI:
    """Pages that record console errors, sign-in, and screenshots at desktop and phone width."""

    def __init__(self, browser: Browser, server, name: str) -> None:
        self.browser = browser
        self.server = server
        self.name = re.sub(r"[^\w.-]+", "_", name)
        self.console_errors: list[str] = []
        self.allowed_errors: list[str] = []
        self.failed_responses: list[str] = []
        self.pages: list[Page] = []

    def page(self, viewport: dict | None = None) -> Page:
        # The server's certificate is its own (no CA vouches for it): accepted once, as a user
        # does after comparing the fingerprint (tests/browser/test_ui_https.py checks that one).
        context = self.browser.new_context(
            viewport=viewport or DESKTOP, accept_downloads=True, ignore_https_errors=True
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))
        # The console names no URL for a failed load: record which one it was.
        page.on("response", self._record_failure)
        self.pages.append(page)
        return page

    def _record_failure(self, response) -> None:
        if response.status >= 400:
            self.failed_responses.append(f"{response.status} {response.url}")

    def open(self, path: str = "/", viewport: dict | None = None) -> Page:
        page = self.page(viewport)
        page.goto(self.server.base_url + path)
        return page

    def sign_in(self, page: Page, key: str | None = None, remember: bool = False) -> None:
        page.get_by_label("API key").fill(key or self.server.api_key)
        if remember:
            page.get_by_label("Remember on this device").check()
        page.get_by_role("button", name="Sign in").click()
        page.locator("#feed-status.live").wait_for()

    def signed_in(self, path: str = "/", viewport: dict | None = None) -> Page:
        page = self.open(path, viewport)
        self.sign_in(page)
        return page

    def shot(self, page: Page, label: str) -> None:
        """Save the page at desktop and phone width (full page), then restore the viewport."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        size = page.viewport_size or DESKTOP
        for kind, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            page.screenshot(path=ARTIFACTS / f"{self.name}-{label}-{kind}.png", full_page=True)
        page.set_viewport_size(size)

    def close(self) -> None:
        for page in self.pages:
            page.context.close()

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.console_errors if not any(a in e for a in self.allowed_errors)]


@pytest.fixture
def ui(browser, server, request) -> Iterator[UI]:
    helper = UI(browser, server, request.node.name)
    yield helper
    helper.close()
    errors = helper.unexpected_errors()
    assert not errors, f"errors in the browser console: {errors}; failed: {helper.failed_responses}"


@pytest.fixture(scope="session", autouse=True)
def _fresh_artifacts() -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
