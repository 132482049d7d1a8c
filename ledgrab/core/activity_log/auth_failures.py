"""Failed API-key attempts, coalesced: at most one entry per client address per window.

The first failure from an address is recorded at once (someone may be locked out right now);
later ones in the same window are only counted, and the count becomes one entry when the window
closes, which opens the next window. So a brute-force run of any length costs one entry (and at
most one immediate commit) per address per window: it can neither flood the log nor wear the card.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ledgrab.utils.tasks import cancel_and_wait

__all__ = ["AuthFailureLog"]

KEY_HINT_CHARS = 4  # enough to tell "an old key of ours" from noise, far too few to guess from
OTHERS = "other addresses"


class _Window:
    __slots__ = ("count", "hints", "opened")

    def __init__(self, opened: float) -> None:
        self.opened = opened
        self.count = 0
        self.hints: set[str] = set()


class AuthFailureLog:
    def __init__(
        self,
        recorder: Any,
        *,
        window_s: float = 60.0,
        max_addresses: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        action: str = "auth.failed",
        nouns: tuple[str, str] = ("failed API-key attempt", "failed API-key attempts"),
    ) -> None:
        self._recorder = recorder
        self._action = action
        self._nouns = nouns
        self._window = window_s
        self._max = max_addresses
        self._clock = clock
        # address -> open window; beyond max_addresses, new addresses share one bucket.
        self._open: OrderedDict[str, _Window] = OrderedDict()
        self._task: asyncio.Task | None = None

    def note(self, address: str | None, key: str | None) -> None:
        """One failed attempt (called on the event loop by the auth guard)."""
        address = address or "unknown"
        now = self._clock()
        self._close_due(now)
        window = self._open.get(address)
        if window is None:
            if len(self._open) >= self._max and address != OTHERS:
                address = OTHERS
                window = self._open.get(address)
            if window is None:
                self._open[address] = _Window(now)
                self._record(address, 1, _hint(key), first=True)
                return
        window.count += 1
        if (hint := _hint(key)) and len(window.hints) < 5:
            window.hints.add(hint)

    def flush(self) -> None:
        """Close every open window now (shutdown)."""
        self._close_due(float("inf"))

    def _close_due(self, now: float) -> None:
        while self._open:
            address, window = next(iter(self._open.items()))
            if now - window.opened < self._window:
                return
            del self._open[address]
            if window.count:
                self._record(address, window.count, ", ".join(sorted(window.hints)), first=False)
                # The summary is this address's one entry of the next window.
                if now != float("inf"):
                    self._open[address] = _Window(now)

    def _record(self, address: str, count: int, hints: str, *, first: bool) -> None:
        seconds = int(self._window)
        message = (
            f"{self._nouns[0][0].upper()}{self._nouns[0][1:]} from {address}"
            if first
            else f"{count} more {self._nouns[1]} from {address} in {seconds} s"
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

    # -- a timer closes windows when no new failure does -------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick(), name="auth-failures")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self.flush()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._window / 4)
            self._close_due(self._clock())


def _hint(key: str | None) -> str:
    if not key or len(key) < 3 * KEY_HINT_CHARS:
        return ""
    return key[:KEY_HINT_CHARS] + "…"
