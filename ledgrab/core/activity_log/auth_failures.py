"""Failed API-key attempts, coalesced: at most one entry per client address per window, and at
most `max_entries_per_window` entries per window from all addresses together.

The first failure from an address is recorded at once (someone may be locked out right now);
later ones in the same window are only counted, and the count becomes one entry when the window
closes, which opens the next window. So a brute-force run of any length costs one entry (and at
most one immediate commit) per address per window: it can neither flood the log nor wear the card.
Many addresses at once (a botnet, or a LAN full of them) meet the global ceiling: past it the
attempts are only counted, and one summary entry says how many, from how many addresses, when
the global window closes. Retention by count can then not be made to drop real history.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ledgrab.core.activity_log.window_timer import WindowTimer
from ledgrab.utils.address_windows import AddressWindows
from ledgrab.utils.plain_text import plural

__all__ = ["AuthFailureLog"]

KEY_HINT_CHARS = 4  # enough to tell "an old key of ours" from noise, far too few to guess from
# Distinct addresses remembered for the summary's "from N addresses"; beyond it, "or more".
_MAX_SUMMARY_ADDRESSES = 4096


class _Window:
    __slots__ = ("count", "hints", "opened")

    def __init__(self, opened: float) -> None:
        self.opened = opened
        self.count = 0
        self.hints: set[str] = set()


class _Ceiling:
    """Entries left in the current global window, and what did not fit."""

    __slots__ = ("addresses", "attempts", "left", "opened")

    def __init__(self, opened: float, budget: int) -> None:
        self.opened = opened
        self.left = budget
        self.attempts = 0
        self.addresses: set[str] = set()


class AuthFailureLog(WindowTimer):
    _task_name = "auth-failures"

    def __init__(
        self,
        recorder: Any,
        *,
        window_s: float = 60.0,
        max_addresses: int = 1024,
        max_entries_per_window: int = 20,
        clock: Callable[[], float] = time.monotonic,
        action: str = "auth.failed",
        nouns: tuple[str, str] = ("failed API-key attempt", "failed API-key attempts"),
    ) -> None:
        self._recorder = recorder
        self._action = action
        self._nouns = nouns
        self._window = window_s
        self._budget = max_entries_per_window
        self._clock = clock
        self._windows: AddressWindows[_Window] = AddressWindows(window_s, max_addresses)
        self._ceiling = _Ceiling(clock(), max_entries_per_window)
        self._task: asyncio.Task | None = None

    def note(self, address: str | None, key: str | None) -> None:
        """One failed attempt (called on the event loop by the auth guard)."""
        now = self._clock()
        self._close_due(now)
        address, window = self._windows.find(address)
        if window is None:
            self._windows.open(address, _Window(now))
            self._record(address, 1, _hint(key), first=True)
            return
        window.count += 1
        if (hint := _hint(key)) and len(window.hints) < 5:
            window.hints.add(hint)

    def flush(self) -> None:
        """Close every open window now (shutdown)."""
        self._close_due(float("inf"))

    def _close_due(self, now: float) -> None:
        self._close_addresses_due(now)
        if now - self._ceiling.opened >= self._window:
            self._summarise_overflow()
            self._ceiling = _Ceiling(now, self._budget)

    def _close_addresses_due(self, now: float) -> None:
        for address, window in self._windows.close_due(now):
            if window.count:
                self._record(address, window.count, ", ".join(sorted(window.hints)), first=False)
                # The summary is this address's one entry of the next window.
                if now != float("inf"):
                    self._windows.open(address, _Window(now))

    def _record(self, address: str, count: int, hints: str, *, first: bool) -> None:
        ceiling = self._ceiling
        if ceiling.left <= 0:
            ceiling.attempts += count
            if len(ceiling.addresses) < _MAX_SUMMARY_ADDRESSES:
                ceiling.addresses.add(address)
            return
        ceiling.left -= 1
        seconds = int(self._window)
        message = (
            f"{self._nouns[0][0].upper()}{self._nouns[0][1:]} from {address}"
            if first
            else f"{plural(count, 'more ' + self._nouns[0], 'more ' + self._nouns[1])} "
            f"from {address} in {seconds} s"
        )
        metadata: dict[str, Any] = {"address": address, "count": count}
        if not first:
            metadata["window_s"] = seconds
        if hints:
            metadata["key_starts_with"] = hints
        self._recorder.record(
            "auth", self._action, severity="warning", actor="unknown", message=message,
            metadata=metadata,
        )  # fmt: skip

    def _summarise_overflow(self) -> None:
        ceiling = self._ceiling
        if not ceiling.attempts:
            return
        addresses = len(ceiling.addresses)
        more = " or more" if addresses >= _MAX_SUMMARY_ADDRESSES else ""
        message = (
            f"{plural(ceiling.attempts, 'failed API-key attempt')} from "
            f"{plural(addresses, 'address', 'addresses')}{more} not recorded one by one: "
            f"over the limit of {plural(self._budget, 'entry', 'entries')} "
            f"in {int(self._window)} s"
        )
        self._recorder.record(
            "auth", "auth.failed", severity="warning", actor="unknown", message=message,
            metadata={
                "count": ceiling.attempts, "addresses": addresses, "window_s": int(self._window),
                "summary": True, "sample": sorted(ceiling.addresses)[:5],
            },
        )  # fmt: skip


def _hint(key: str | None) -> str:
    if not key or len(key) < 3 * KEY_HINT_CHARS:
        return ""
    return key[:KEY_HINT_CHARS] + "…"
