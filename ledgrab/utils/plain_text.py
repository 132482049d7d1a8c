"""Plain text for names and labels: no control characters, no bidirectional overrides.

A name travels into the activity log, its CSV export, a terminal and the browser UI. A control
character can forge a line or a CSV row there, and a bidirectional override (the "Trojan Source"
trick) can make a name read differently from what it stores. `text_problem` says why a name we are
given is refused; `displayable` makes text from elsewhere (the LAN, an old file) safe to show.
"""

from __future__ import annotations

import re

__all__ = ["PLAIN_TEXT_PATTERN", "check_name", "displayable", "plural", "text_problem"]

# C0 controls and DEL, C1 controls, the embeddings/overrides U+202A-U+202E and the isolates
# U+2066-U+2069 (Unicode UAX #9).
_FORBIDDEN_CLASS = "\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069"
_FORBIDDEN = re.compile(f"[{_FORBIDDEN_CLASS}]")
# The same rule as a JSON Schema pattern, so that clients can check a name before sending it.
PLAIN_TEXT_PATTERN = f"^[^{_FORBIDDEN_CLASS}]*$"
_KIND = {
    **dict.fromkeys(range(0x00, 0x20), "a control character"),
    0x7F: "a control character",
    **dict.fromkeys(range(0x80, 0xA0), "a control character"),
    **dict.fromkeys(range(0x202A, 0x202F), "a bidirectional override"),
    **dict.fromkeys(range(0x2066, 0x206A), "a bidirectional isolate"),
}


def text_problem(text: str) -> str | None:
    """Why `text` cannot be a name (the first offending character), or None when it can."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    code = ord(found.group())
    return f"contains {_KIND[code]} (U+{code:04X}) at position {found.start()}"


def check_name(field: str, text: str) -> None:
    """Raise ValueError naming `field` and the problem; msgspec turns it into a 400."""
    if (problem := text_problem(text)) is not None:
        raise ValueError(f"{field}: {problem}; use plain text")


def displayable(text: str) -> str:
    """`text` with every forbidden character replaced by U+FFFD, for logs and the UI."""
    return _FORBIDDEN.sub("\ufffd", text)


def plural(count: int, one: str, many: str | None = None) -> str:
    """ "1 entry", "2 entries": `many` defaults to `one` with an s."""
    return f"{count} {one if count == 1 else (many or one + 's')}"
