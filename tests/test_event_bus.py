"""The bus keeps every backlog bounded: a slow subscriber is told how much it lost; a message
nobody wants is never built; one published later arrives in order."""

import asyncio
import json
import logging
import threading

import pytest

from ledgrab.core.event_bus import EventBus


def decode(data: bytes) -> dict:
    return json.loads(data)


def test_slow_subscriber_is_told_it_lagged_and_memory_stays_bounded():
    async def main():
        bus = EventBus(backlog=5)
        bus.bind(asyncio.get_running_loop())
        slow = bus.subscribe()
        for n in range(100):
            bus.publish("device_state", {"n": n})
        assert slow.pending() == 5
        first = decode(await slow.get())
        rest = [decode(await slow.get()) for _ in range(5)]
        return first, rest, slow.dropped

    first, rest, dropped = asyncio.run(main())
    assert first == {"type": "events_lagged", "dropped": 95}
    assert [m["n"] for m in rest] == [95, 96, 97, 98, 99]
    assert dropped == 95


def test_foreign_thread_inbox_is_bounded_and_its_overflow_reported():
    loop = asyncio.new_event_loop()
    try:
        bus = EventBus(backlog=100_000, inbox_limit=10)
        bus.bind(loop)  # bound, but not running: nothing drains while the thread floods

        async def subscribe():
            return bus.subscribe()

        sub = loop.run_until_complete(subscribe())
        elsewhere = bus.subscribe(["target_started"])  # lost none of what it wanted

        def flood():
            for n in range(1000):
                bus.publish("device_state", {"n": n})

        worker = threading.Thread(target=flood)
        worker.start()
        worker.join()

        async def read(count: int) -> list[dict]:
            return [decode(await sub.get()) for _ in range(count)]

        messages = loop.run_until_complete(asyncio.wait_for(read(11), 10))
    finally:
        loop.close()
    # What did not fit in the inbox is not lost silently: the subscriber is told how much.
    assert messages[0] == {"type": "events_lagged", "dropped": 990}
    assert [m["n"] for m in messages[1:]] == list(range(10))
    assert bus.dropped_off_loop == sub.dropped == 990
    assert elsewhere.dropped == elsewhere.pending() == 0


def test_unknown_event_type_is_a_programming_error():
    bus = EventBus()
    with pytest.raises(ValueError, match="EVENT_TYPES"):
        bus.publish("made_up")
    with pytest.raises(ValueError, match="made_up"):
        bus.subscribe(["made_up"])


def test_publish_without_a_loop_or_after_close_is_silent():
    bus = EventBus()
    bus.publish("device_state", {"x": 1})  # not bound: dropped quietly
    sub = bus.subscribe()
    kept = bus.subscribe(["device_state"])
    sub.close()
    sub.close()  # twice: nothing changes
    assert bus.subscriber_count == 1
    assert bus.wants("device_state") and not bus.wants("activity_logged")
    kept.close()
    assert not bus.wants("device_state")


def test_a_message_no_subscriber_wants_is_never_encoded():
    # The server's own subscriber wants device events only: an activity entry, recorded on
    # every API change, was encoded for nobody (about 1.5 us of each record()).
    encode = Encoder("activity_logged")

    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        bus.subscribe(["device_state"])
        bus.publish("activity_logged", {"cannot be encoded": object()})
        bus.publish_later("activity_logged", encode, 1)
        await asyncio.sleep(0)
        return bus.wants("activity_logged"), bus.wants("device_state")

    assert asyncio.run(main()) == (False, True)
    assert encode.values == []


def test_published_later_on_the_loop_encodes_at_the_next_turn_and_keeps_the_order():
    encode = Encoder("activity_logged")

    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        sub = bus.subscribe()
        bus.publish_later("activity_logged", encode, 1)
        not_yet = list(encode.values)
        bus.publish("device_state", {"n": 2})  # what was published before goes first
        bus.publish_later("activity_logged", encode, 3)
        return not_yet, [decode(await sub.get())["n"] for _ in range(3)]

    not_yet, received = asyncio.run(main())
    assert not_yet == []
    assert received == [1, 2, 3]
    assert encode.values == [1, 3]


def test_a_burst_on_the_loop_past_the_inbox_limit_is_reported_not_dropped():
    async def main():
        bus = EventBus(backlog=5, inbox_limit=10)
        bus.bind(asyncio.get_running_loop())
        sub = bus.subscribe()
        for n in range(100):  # no turn of the loop in between
            bus.publish_later("device_state", _numbered, n)
        await asyncio.sleep(0)  # the last ten, still in the inbox, are delivered
        first = decode(await sub.get())
        return first, [decode(await sub.get())["n"] for _ in range(5)], bus.dropped_off_loop

    first, rest, dropped_off_loop = asyncio.run(main())
    assert first == {"type": "events_lagged", "dropped": 95}
    assert rest == [95, 96, 97, 98, 99]
    assert dropped_off_loop == 0


def test_a_message_that_cannot_be_encoded_costs_only_itself(caplog):
    def encode(value):
        if value == 1:
            raise TypeError("not JSON")
        return _numbered(value)

    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        sub = bus.subscribe()
        for n in range(3):
            bus.publish_later("device_state", encode, n)
        return [decode(await sub.get())["n"] for _ in range(2)]

    with caplog.at_level(logging.ERROR, logger="ledgrab.core.event_bus"):
        assert asyncio.run(main()) == [0, 2]
    assert "could not encode a device_state event" in caplog.text


def test_published_later_from_a_foreign_thread_is_encoded_there():
    encode = Encoder("device_state")

    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        sub = bus.subscribe()
        worker = threading.Thread(target=bus.publish_later, args=("device_state", encode, 7))
        worker.start()
        await asyncio.to_thread(worker.join)
        return decode(await sub.get())["n"], worker.ident

    received, worker_ident = asyncio.run(main())
    assert received == 7
    assert encode.threads == [worker_ident]


def _numbered(n: int) -> bytes:
    return json.dumps({"type": "device_state", "n": n}).encode()


class Encoder:
    """Encodes {"type", "n": value} and notes each value and the thread it ran on."""

    def __init__(self, event_type: str) -> None:
        self.event_type = event_type
        self.values: list[int] = []
        self.threads: list[int] = []

    def __call__(self, value: int) -> bytes:
        self.values.append(value)
        self.threads.append(threading.get_ident())
        return json.dumps({"type": self.event_type, "n": value}).encode()
