"""Fan events out to websocket subscribers; publish from any thread; every backlog is bounded."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from ledgrab.core.event_types import EVENT_TYPES

__all__ = ["EventBus", "Subscription"]

log = logging.getLogger(__name__)


class Subscription:
    """One subscriber's bounded backlog; when it overflows the oldest messages are dropped and
    the next read reports how many were lost (an `events_lagged` message)."""

    def __init__(self, bus: EventBus, types: frozenset[str] | None, backlog: int) -> None:
        self._bus = bus
        self.types = types
        self._queue: deque[bytes] = deque()
        self._backlog = backlog
        self._ready = asyncio.Event()
        self.dropped = 0
        self._unreported = 0
        self.closed = False

    def wants(self, event_type: str) -> bool:
        """Whether this subscriber takes messages of `event_type`."""
        return self.types is None or event_type in self.types

    def _offer(self, event_type: str, data: bytes) -> None:
        if not self.wants(event_type):
            return
        if len(self._queue) >= self._backlog:
            self._queue.popleft()
            self.dropped += 1
            self._unreported += 1
        self._queue.append(data)
        self._ready.set()

    def _lost(self, count: int) -> None:
        """Messages for this subscriber that never reached its backlog: the bus inbox was full."""
        self.dropped += count
        self._unreported += count
        self._ready.set()

    async def get(self) -> bytes:
        """The next encoded message (a JSON object)."""
        while not self._queue and not self._unreported:
            self._ready.clear()
            await self._ready.wait()
        if self._unreported:
            lost, self._unreported = self._unreported, 0
            return msgspec.json.encode({"type": "events_lagged", "dropped": lost})
        return self._queue.popleft()

    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._remove(self)


class EventBus:
    """publish() from any thread; delivery happens on the bound event loop."""

    def __init__(self, *, backlog: int = 256, inbox_limit: int = 10_000) -> None:
        self._backlog = backlog
        self._inbox_limit = inbox_limit
        self._subscribers: set[Subscription] = set()
        # The types some subscriber wants, so a message nobody wants is never built: the
        # server's own subscriber does not want `activity_logged`.
        self._wanted: frozenset[str] = frozenset()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # (type, value, encode): encode(value) is the message; None: value is the message.
        self._inbox: deque[tuple[str, Any, Callable[[Any], bytes] | None]] = deque()
        self._inbox_lock = threading.Lock()
        self._drain_scheduled = False
        self.dropped_off_loop = 0
        # Types of the messages dropped at the inbox limit since the last drain: each
        # subscriber that wanted them is told how many it lost, as for its own backlog.
        self._lost_off_loop: Counter[str] = Counter()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def unbind(self) -> None:
        self._loop = None
        self._loop_thread = None

    def subscribe(
        self, types: Iterable[str] | None = None, backlog: int | None = None
    ) -> Subscription:
        wanted = None if types is None else frozenset(types)
        if wanted is not None and (unknown := wanted - EVENT_TYPES):
            raise ValueError(f"unknown event types: {', '.join(sorted(unknown))}")
        sub = Subscription(self, wanted, backlog or self._backlog)
        self._subscribers.add(sub)
        self._wanted = self._wanted | (EVENT_TYPES if wanted is None else wanted)
        return sub

    def _remove(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        self._wanted = frozenset().union(
            *(EVENT_TYPES if other.types is None else other.types for other in self._subscribers)
        )

    def wants(self, event_type: str) -> bool:
        """Whether any subscriber would receive a message of this type."""
        return event_type in self._wanted

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, event_type: str, payload: dict[str, Any] | None = None) -> None:
        """Send {"type": event_type, **payload} to every subscriber that wants it."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}: add it to EVENT_TYPES")
        if self._loop is None or not self.wants(event_type):
            return
        data = msgspec.json.encode({"type": event_type, **(payload or {})})
        if threading.get_ident() == self._loop_thread:
            if self._inbox:  # messages published before this one go first
                self._drain()
            self._fan_out(event_type, data)
            return
        self._from_thread(event_type, data)

    def publish_later(self, event_type: str, encode: Callable[[Any], bytes], value: Any) -> None:
        """Send `encode(value)` (a JSON object with this "type") to every subscriber that wants
        it. On the loop's thread, encode runs at the loop's next turn, once for every
        subscriber, so the publisher does not wait for it: `value` must not change afterwards."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}: add it to EVENT_TYPES")
        loop = self._loop
        if loop is None or not self.wants(event_type):
            return
        if threading.get_ident() != self._loop_thread:
            self._from_thread(event_type, encode(value))
            return
        if len(self._inbox) >= self._inbox_limit:
            # On the loop's own thread the limit means: deliver now, into each subscriber's
            # backlog, which tells a reader what it lost. Never a silent drop.
            self._drain()
        with self._inbox_lock:
            self._inbox.append((event_type, value, encode))
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        self._schedule_drain(loop.call_soon)

    def _from_thread(self, event_type: str, data: bytes) -> None:
        # Off the loop: park the message in a bounded inbox and schedule one drain, so a fast
        # producer thread cannot pile up an unbounded number of loop callbacks.
        with self._inbox_lock:
            if len(self._inbox) >= self._inbox_limit:
                self.dropped_off_loop += 1
                self._lost_off_loop[event_type] += 1
                return
            self._inbox.append((event_type, data, None))
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        loop = self._loop
        if loop is not None:
            self._schedule_drain(loop.call_soon_threadsafe)

    def _schedule_drain(self, call_soon: Callable[[Callable[[], None]], Any]) -> None:
        try:
            call_soon(self._drain)
        except RuntimeError:  # the loop closed under us: nobody is listening any more
            with self._inbox_lock:
                self._inbox.clear()
                self._lost_off_loop.clear()
                self._drain_scheduled = False

    def _drain(self) -> None:
        with self._inbox_lock:
            batch, self._inbox = self._inbox, deque()
            lost, self._lost_off_loop = self._lost_off_loop, Counter()
            self._drain_scheduled = False
        for event_type, value, encode in batch:
            if encode is None:
                self._fan_out(event_type, value)
                continue
            try:
                data = encode(value)
            except Exception:  # one bad message must not cost the others in this batch
                log.exception("could not encode a %s event", event_type)
                continue
            self._fan_out(event_type, data)
        if lost:
            self._report_lost(lost)

    def _report_lost(self, lost: Counter[str]) -> None:
        for sub in list(self._subscribers):
            count = sum(n for event_type, n in lost.items() if sub.wants(event_type))
            if count:
                sub._lost(count)

    def _fan_out(self, event_type: str, data: bytes) -> None:
        for sub in list(self._subscribers):
            sub._offer(event_type, data)
