"""The bus keeps every backlog bounded: a slow subscriber is told how much it lost."""

import asyncio
import json
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


def test_foreign_thread_inbox_is_bounded():
    loop = asyncio.new_event_loop()
    try:
        bus = EventBus(backlog=100_000, inbox_limit=10)
        bus.bind(loop)  # bound, but not running: nothing drains while the thread floods

        async def subscribe():
            return bus.subscribe()

        sub = loop.run_until_complete(subscribe())

        def flood():
            for n in range(1000):
                bus.publish("device_state", {"n": n})

        worker = threading.Thread(target=flood)
        worker.start()
        worker.join()
        loop.run_until_complete(asyncio.sleep(0))
        delivered = [decode(m)["n"] for m in list(sub._queue)]
    finally:
        loop.close()
    assert delivered == list(range(10))
    assert bus.dropped_off_loop == 990


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
    sub.close()
    assert bus.subscriber_count == 0
