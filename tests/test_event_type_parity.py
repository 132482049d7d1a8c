"""The browser's event-type allowlist (web/js/event-types.js) equals the server's EVENT_TYPES."""

import re
from pathlib import Path

from ledgrab.core.event_types import EVENT_TYPES

JS_FILE = Path(__file__).parents[1] / "ledgrab" / "web" / "js" / "event-types.js"


def _browser_types() -> list[str]:
    source = JS_FILE.read_text()
    body = re.search(r"EVENT_TYPES\s*=\s*new Set\(\[(.*?)\]\)", source, re.S)
    assert body, "event-types.js no longer defines EVENT_TYPES = new Set([...])"
    without_comments = re.sub(r"//[^\n]*", "", body.group(1))
    return re.findall(r"""["']([^"']+)["']""", without_comments)


def test_browser_allowlist_equals_server_list():
    browser = _browser_types()
    assert len(browser) == len(set(browser)), "a type is listed twice in event-types.js"
    missing = EVENT_TYPES - set(browser)
    extra = set(browser) - EVENT_TYPES
    assert not missing, f"add to ledgrab/web/js/event-types.js: {sorted(missing)}"
    assert not extra, f"not server event types (remove from event-types.js): {sorted(extra)}"
