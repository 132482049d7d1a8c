"""AddressWindows: one counting window per client address, bounded, closed in the order opened.

Both the refusal budgets (utils/address_budget.py) and the failed-key log
(core/activity_log/auth_failures.py) keep such a table: past `max_addresses`, new addresses
share the window of OTHERS, so a flood of addresses is bounded and still counted, never let
through.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Protocol, TypeVar

__all__ = ["OTHERS", "AddressWindows"]

OTHERS = "other addresses"


class _Opened(Protocol):
    opened: float


W = TypeVar("W", bound=_Opened)


class AddressWindows(Generic[W]):
    """Windows of `window_s` keyed by address, oldest first; a window's type is the caller's."""

    def __init__(self, window_s: float, max_addresses: int) -> None:
        self.window_s = window_s
        self._max = max_addresses
        self._open: OrderedDict[str, W] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def close_due(self, now: float) -> list[tuple[str, W]]:
        """Take out the windows open for `window_s` or longer at `now`, oldest first."""
        closed = []
        while self._open:
            address, window = next(iter(self._open.items()))
            if now - window.opened < self.window_s:
                break
            del self._open[address]
            closed.append((address, window))
        return closed

    def find(self, address: str | None) -> tuple[str, W | None]:
        """The key `address` counts under (OTHERS once the table is full) and its open window."""
        key = address or "unknown"
        if key not in self._open and len(self._open) >= self._max:
            key = OTHERS
        return key, self._open.get(key)

    def open(self, key: str, window: W) -> W:
        """Start `window` for `key` (a key from `find()`, or one just closed)."""
        self._open[key] = window
        return window
