"""Event-feed websockets: bounded while they wait for a key, told when their key is revoked."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from ledgrab.storage.api_keys import ApiKeyStore

__all__ = ["AuthWaitingRoom", "OpenFeeds"]


class AuthWaitingRoom:
    """Counts sockets that have not authenticated yet, in all and per client address.

    Without a bound, a stranger could hold thousands of sockets open for the auth timeout each;
    per address, so that one noisy host does not keep everyone else from signing in.
    """

    def __init__(self, total: int, per_address: int) -> None:
        self._total = total
        self._per_address = per_address
        self._waiting: Counter[str] = Counter()

    @contextmanager
    def enter(self, address: str | None) -> Iterator[bool]:
        """Yields whether there was room; the place is given back on leaving."""
        address = address or "unknown"
        admitted = (
            sum(self._waiting.values()) < self._total and self._waiting[address] < self._per_address
        )
        if admitted:
            self._waiting[address] += 1
        try:
            yield admitted
        finally:
            if admitted:
                self._waiting[address] -= 1
                if not self._waiting[address]:
                    del self._waiting[address]


class OpenFeeds:
    """Authenticated feeds and the key each was opened with; a revoked key's feeds are signalled
    as soon as the key store notices (at once for the API, within its recheck for the CLI)."""

    def __init__(self, keys: ApiKeyStore, loop: asyncio.AbstractEventLoop) -> None:
        self._keys = keys
        self._loop = loop
        self._feeds: dict[asyncio.Event, tuple[str, bytes]] = {}
        keys.on_change(self._keys_changed)

    def add(self, label: str, digest: bytes) -> asyncio.Event:
        """Register a feed; the returned event is set when its key stops being valid."""
        revoked = asyncio.Event()
        self._feeds[revoked] = (label, digest)
        if not self._keys.is_current(label, digest):  # revoked while the feed authenticated
            revoked.set()
        return revoked

    def remove(self, revoked: asyncio.Event) -> None:
        self._feeds.pop(revoked, None)

    def _keys_changed(self) -> None:
        # The store may have reread its keys in a worker thread (a blocking load).
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._recheck)

    def _recheck(self) -> None:
        for revoked, (label, digest) in list(self._feeds.items()):
            if not self._keys.is_current(label, digest):
                revoked.set()
