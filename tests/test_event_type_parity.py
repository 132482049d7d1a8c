"""The browser's allowlist of event types equals the server's single list."""

import re
from pathlib import Path

from ledgrab.core.event_types import EVENT_TYPES

JS_LIST = Path(__file__).parents[1] / "ledgrab" / "web" / "js" / "event-types.js"


def browser_event_types() -> set[str]:
    text = JS_LIST.read_text()
    body = re.search(r"new Set\(\[(.*?)\]\)", text, re.S)
    assert body, f"no `new Set([...])` list in {JS_LIST}"
    return set(re.findall(r'"([a-z_]+)"', body.group(1)))


def test_browser_allowlist_matches_server_event_types():
    browser = browser_event_types()
    assert browser - EVENT_TYPES == set(), "the browser accepts types the server never sends"
    assert EVENT_TYPES - browser == set(), "the server sends types the browser would drop"
