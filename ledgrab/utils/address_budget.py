"""AddressBudget: so many answers a minute per client address go out at once; later ones wait.

A request costs the server all of a request's work (TLS, HTTP, routing) however little it asks
for, and a client that sends them back to back keeps the server's loop thread busy; the LED
frames then wait for the interpreter lock. The server gives each address two budgets of this
kind (api/auth.py for refused keys, api/public_budget.py for the routes that need no key), and
a request with a right key counts against neither. Holding an answer costs the server a timer,
and a client that waits for its answers (an HTTP/1.1 connection always does) then sends at most
one request per `delay_s` per connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ledgrab.utils.address_windows import AddressWindows

__all__ = ["AddressBudget"]


class _Window:
    __slots__ = ("answers", "opened")

    def __init__(self, opened: float) -> None:
        self.opened = opened
        self.answers = 0


class AddressBudget:
    """Counts answers per address in windows of `window_s`; `free` of them go out at once."""

    def __init__(
        self,
        *,
        free: int,
        delay_s: float,
        window_s: float = 60.0,
        max_addresses: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = free
        self._delay = delay_s
        self._clock = clock
        self._windows: AddressWindows[_Window] = AddressWindows(window_s, max_addresses)

    def held_s(self, address: str | None) -> float:
        """Count one answer to `address`; the seconds to hold it (0: answer now)."""
        if self._delay <= 0:
            return 0.0
        now = self._clock()
        self._windows.close_due(now)
        key, window = self._windows.find(address)
        if window is None:
            window = self._windows.open(key, _Window(now))
        window.answers += 1
        return self._delay if window.answers > self._free else 0.0

    @property
    def addresses(self) -> int:
        """Addresses with an open window (at most max_addresses + 1)."""
        return len(self._windows)
