"""DDP capture over real UDP on loopback: hand-built frames reach the frame buffer intact, PUSH
completes a frame, bad datagrams are counted and dropped, a busy port is a clear error."""

from __future__ import annotations

import socket
import tracemalloc
from collections.abc import Iterator

import msgspec
import pytest

from ledgrab.core.effects.capture_packets import PacketError, parse_ddp
from ledgrab.core.effects.capture_receiver import CaptureBindError, CaptureHub
from ledgrab.core.event_bus import EventBus
from tests.support.ddp import ddp_frame, ddp_packet
from tests.support.live_server import wait_for
from tests.support.loop_thread import LoopThread

LEDS = 600  # 1800 bytes: more than one DDP packet


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    with LoopThread() as running:
        yield running


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def _open(loop: LoopThread, hub: CaptureHub, **kwargs):
    kwargs.setdefault("led_count", LEDS)
    kwargs.setdefault("timeout_s", 2.5)
    target = loop.call(lambda: hub.open_input(protocol="ddp", port=0, **kwargs))
    return target, ("127.0.0.1", loop.call(hub.bound_port, target))


def _pixels(seed: int, leds: int = LEDS) -> bytes:
    return bytes((i * 7 + seed) % 256 for i in range(leds * 3))


def test_once_a_sender_pushes_a_frame_shows_only_after_its_push(loop, sender):
    hub = CaptureHub(bind_host="127.0.0.1")
    target, addr = _open(loop, hub)
    try:
        for packet in ddp_frame(_pixels(1)):  # two packets, PUSH on the second
            sender.sendto(packet, addr)
        wait_for(lambda: target.stats.packets == 2, what="first frame")
        assert target.frame() == _pixels(1)
        assert target.live and target.sender_label == f"127.0.0.1:{sender.getsockname()[1]}"

        # the sender has shown it uses PUSH: half a frame must not show
        first, second = ddp_frame(_pixels(2), sequence=2)
        sender.sendto(first, addr)
        wait_for(lambda: target.stats.packets == 3, what="half of the second frame")
        assert target.frame() == _pixels(1)
        sender.sendto(second, addr)
        wait_for(lambda: target.stats.packets == 4, what="the rest of the second frame")
        assert target.frame() == _pixels(2)
        assert target.stats.frames >= 2
    finally:
        loop.call(hub.close)


def test_packets_without_push_show_as_they_land_and_excess_is_clipped(loop, sender):
    hub = CaptureHub(bind_host="127.0.0.1")
    target, addr = _open(loop, hub, led_count=4)
    try:
        sender.sendto(ddp_packet(b"\x01\x02\x03" * 3, push=False), addr)
        wait_for(lambda: target.stats.packets == 1, what="packet")
        assert target.frame() == b"\x01\x02\x03" * 3 + b"\x00" * 3
        # 6 pixels at offset 3 px: 1 fits, 5 (15 bytes) fall beyond the 4-LED buffer
        sender.sendto(ddp_packet(b"\x09" * 18, offset=9, push=False), addr)
        wait_for(lambda: target.stats.packets == 2, what="second packet")
        assert target.frame() == b"\x01\x02\x03" * 3 + b"\x09" * 3
        assert target.stats.clipped_bytes == 15
    finally:
        loop.call(hub.close)


def test_malformed_truncated_oversized_are_counted_dropped_and_memory_stays_flat(loop, sender):
    hub = CaptureHub(bind_host="127.0.0.1")
    target, addr = _open(loop, hub)
    stats = hub.listener_stats("ddp", addr[1])
    assert stats is not None
    bad = {
        "truncated": [b"\x41\x01", ddp_packet(b"\x00" * 30, length=300)],
        "malformed": [ddp_packet(b"\x00" * 30, flags=0x81)],  # version bits 2
        "oversized": [ddp_packet(b"\x00" * 1480)],
        "unsupported": [ddp_packet(b"\x00" * 30, data_type=0x2B)],
        "ignored": [ddp_packet(b"", flags=0x42), ddp_packet(b"{}", destination=251)],
    }
    rounds = 400
    try:
        tracemalloc.start()
        for n in range(rounds):
            for packets in bad.values():
                for packet in packets:
                    sender.sendto(packet, addr)
            if n == 20:  # warmed up: later rounds must not grow anything
                sent = 21 * sum(len(p) for p in bad.values())
                wait_for(lambda sent=sent: stats.datagrams == sent, what="warm-up datagrams")
                baseline = tracemalloc.get_traced_memory()[0]
            elif n % 20 == 19:  # let the receiver keep up so the kernel queue never drops
                sent = (n + 1) * sum(len(p) for p in bad.values())
                wait_for(lambda sent=sent: stats.datagrams == sent, what="datagrams")
        grown = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.stop()

        counts = msgspec.to_builtins(stats)
        for reason, packets in bad.items():
            assert counts[reason] == rounds * len(packets), reason
        assert target.stats.packets == 0 and not target.live
        assert grown < 256 * 1024, f"{grown} bytes retained after {rounds} rounds of junk"

        for packet in ddp_frame(_pixels(5)):
            sender.sendto(packet, addr)
        wait_for(lambda: target.frame() == _pixels(5), what="a good frame after the junk")
        assert target.frame() == _pixels(5)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        loop.call(hub.close)


def test_stream_start_and_timeout_are_events(loop, sender):
    bus = EventBus()
    loop.call(bus.bind, loop.loop)
    sub = loop.call(bus.subscribe, ["capture_started", "capture_stopped"])
    hub = CaptureHub(bus=bus, bind_host="127.0.0.1")
    target, addr = _open(loop, hub, timeout_s=0.3, source_id="s1", source_name="TV")
    try:
        for packet in ddp_frame(_pixels(3)):
            sender.sendto(packet, addr)
        started = msgspec.json.decode(loop.run(sub.get()))
        assert started["type"] == "capture_started"
        assert (started["source_id"], started["protocol"]) == ("s1", "ddp")
        stopped = msgspec.json.decode(loop.run(sub.get()))
        assert (stopped["type"], stopped["reason"]) == ("capture_stopped", "timeout")
        assert not target.live
        assert target.frame() == _pixels(3)  # the last frame is kept for a "hold" fallback
    finally:
        loop.call(hub.close)
        loop.call(bus.unbind)


def test_busy_port_is_a_clear_error(loop):
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    hub = CaptureHub(bind_host="127.0.0.1")
    try:
        with pytest.raises(CaptureBindError, match=rf"DDP on UDP 127.0.0.1:{port}.*in use"):
            loop.call(lambda: hub.open_input(protocol="ddp", port=port, led_count=10, timeout_s=1))
    finally:
        holder.close()


def test_parse_ddp_reads_the_timecode_header():
    packet = parse_ddp(ddp_packet(b"\x05\x06\x07", offset=6, timecode=1234))
    assert packet is not None
    assert (packet.offset, bytes(packet.data), packet.push) == (6, b"\x05\x06\x07", True)
    with pytest.raises(PacketError) as excinfo:
        parse_ddp(ddp_packet(b"\x05\x06", length=3, timecode=1))
    assert excinfo.value.reason == "truncated"
