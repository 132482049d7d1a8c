"""E1.31 capture fed by the third-party `sacn` sender over real UDP: several universes land on
one strip, a higher priority takes over, an equal one waits for the holder to time out, and
multicast works (inside a network namespace of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import sacn
import sacn.sending.sender_socket_udp

from ledgrab.core.effects.capture_receiver import CaptureHub
from ledgrab.core.event_bus import EventBus
from tests.support.live_server import wait_for
from tests.support.loop_thread import LoopThread
from tests.support.netns import needs_private_network, run_probe_in_private_network

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    with LoopThread() as running:
        yield running


def _universe(seed: int) -> tuple[int, ...]:
    return tuple((i * 3 + seed) % 256 for i in range(510))


def _sender(port: int, monkeypatch, name: str) -> sacn.sACNsender:
    # sacn sends to its fixed DEFAULT_PORT; point it at this test's port. No universe discovery:
    # that is a broadcast, and nothing here may leave loopback.
    monkeypatch.setattr(sacn.sending.sender_socket_udp, "DEFAULT_PORT", port)
    return sacn.sACNsender(
        bind_address="127.0.0.1", bind_port=0, source_name=name, universeDiscovery=False, fps=60
    )


def _activate(sender: sacn.sACNsender, universe: int, data: tuple[int, ...], priority: int):
    sender.activate_output(universe)
    output = sender[universe]
    output.destination = "127.0.0.1"
    output.priority = priority
    output.dmx_data = data


def test_four_universes_fill_one_strip(loop, monkeypatch):
    hub = CaptureHub(bind_host="127.0.0.1")
    target = loop.call(
        lambda: hub.open_input(protocol="e131", port=0, led_count=680, timeout_s=2.5, universe=11)
    )
    port = loop.call(hub.bound_port, target)
    sender = _sender(port, monkeypatch, "grabber")
    try:
        for k in range(4):
            _activate(sender, 11 + k, _universe(k), 100)
        sender.start()
        expected = b"".join(bytes(_universe(k)) for k in range(4))
        wait_for(lambda: target.frame() == expected, what="all four universes")
        assert target.live and target.sender_label == "grabber (127.0.0.1)"
        assert target.stats.frames >= 1
    finally:
        sender.stop()
        loop.call(hub.close)


def test_higher_priority_takes_over_and_gives_back(loop, monkeypatch):
    bus = EventBus()
    loop.call(bus.bind, loop.loop)
    sub = loop.call(bus.subscribe, ["capture_started", "capture_stopped"])
    hub = CaptureHub(bus=bus, bind_host="127.0.0.1")
    target = loop.call(
        lambda: hub.open_input(protocol="e131", port=0, led_count=170, timeout_s=2.5)
    )
    port = loop.call(hub.bound_port, target)
    low, high = _sender(port, monkeypatch, "low"), _sender(port, monkeypatch, "high")

    def next_event() -> tuple[str, str | None, str | None]:
        event = msgspec.json.decode(loop.run(sub.get()))
        return event["type"], event["sender"], event.get("reason")

    try:
        _activate(low, 1, _universe(1), 100)
        low.start()
        wait_for(lambda: target.frame() == bytes(_universe(1)), what="the low-priority frame")
        assert next_event() == ("capture_started", "low (127.0.0.1)", None)

        _activate(high, 1, _universe(2), 150)
        high.start()
        wait_for(lambda: target.frame() == bytes(_universe(2)), what="the high-priority frame")
        assert next_event() == ("capture_stopped", "low (127.0.0.1)", "superseded")
        assert next_event() == ("capture_started", "high (127.0.0.1)", None)
        wait_for(lambda: target.stats.dropped_other_sender > 0, what="low's packets dropped")
        assert target.frame() == bytes(_universe(2))

        high.deactivate_output(1)  # sends stream-terminated packets
        assert next_event() == ("capture_stopped", "high (127.0.0.1)", "terminated")
        wait_for(lambda: target.frame() == bytes(_universe(1)), what="low's frame again")
        assert next_event() == ("capture_started", "low (127.0.0.1)", None)
    finally:
        high.stop()
        low.stop()
        loop.call(hub.close)
        loop.call(bus.unbind)


def test_equal_priority_first_sender_keeps_it_until_it_times_out(loop, monkeypatch):
    hub = CaptureHub(bind_host="127.0.0.1")
    target = loop.call(
        lambda: hub.open_input(protocol="e131", port=0, led_count=170, timeout_s=0.5)
    )
    port = loop.call(hub.bound_port, target)
    first, second = _sender(port, monkeypatch, "first"), _sender(port, monkeypatch, "second")
    try:
        _activate(first, 1, _universe(7), 100)
        first.start()
        wait_for(lambda: target.frame() == bytes(_universe(7)), what="the first sender's frame")
        _activate(second, 1, _universe(8), 100)
        second.start()
        wait_for(lambda: target.stats.dropped_other_sender >= 1, what="second sender refused")
        assert target.sender_label == "first (127.0.0.1)"
        assert target.frame() == bytes(_universe(7))

        first.stop()  # no stream-terminated packets: only the timeout ends its stream
        wait_for(lambda: target.frame() == bytes(_universe(8)), what="the second sender's frame")
        assert target.sender_label == "second (127.0.0.1)"
    finally:
        second.stop()
        first.stop()
        loop.call(hub.close)


def test_unrouted_universe_is_counted(loop, monkeypatch):
    hub = CaptureHub(bind_host="127.0.0.1")
    target = loop.call(lambda: hub.open_input(protocol="e131", port=0, led_count=170, timeout_s=1))
    port = loop.call(hub.bound_port, target)
    sender = _sender(port, monkeypatch, "elsewhere")
    try:
        _activate(sender, 9, _universe(1), 100)
        sender.start()
        stats = hub.listener_stats("e131", port)
        wait_for(lambda: stats.unrouted > 0, what="universe 9 counted as unrouted")
        assert not target.live and target.frame() == bytes(510)
    finally:
        sender.stop()
        loop.call(hub.close)


@needs_private_network
def test_multicast_in_a_private_network_namespace():
    # Multicast joins and sends happen in a namespace with only its own loopback, never the LAN.
    report = run_probe_in_private_network("tests.support.e131_multicast_probe")
    assert report["groups"] == ["239.255.0.7", "239.255.0.8"]
    assert report["frame_matches"] is True
    assert report["sender"] == "multicaster (127.0.0.1)"
