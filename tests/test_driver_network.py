"""DDP, E1.31 and WLED drivers against real UDP (and HTTP) receivers on 127.0.0.1, decoding
what arrived and comparing it with the frame that was sent."""

from __future__ import annotations

import asyncio
import struct

import pytest
from sacn.messages.data_packet import DataPacket

from ledgrab.core.devices.ddp import DdpDriver
from ledgrab.core.devices.e131 import E131Driver, multicast_group
from ledgrab.core.devices.factory import DriverContext
from ledgrab.models.devices import DdpDevice, E131Device
from ledgrab.utils.lan_address import AddressRefused, resolve_lan_address
from tests.support.live_server import LiveServer, wait_for
from tests.support.netns import needs_private_network, run_probe_in_private_network
from tests.support.receivers import FakeWled, UdpReceiver


def _frame(n: int, stride: int = 3) -> bytes:
    return bytes((i * 7 + 3) % 256 for i in range(n * stride))


def _drive(driver, frames):
    async def run():
        await driver.open()
        for frame in frames:
            driver.send(frame)
        await driver.close()

    asyncio.run(run())


def _ddp_decode(packet: bytes):
    flags, seq, dtype, dest, offset, length = struct.unpack(">BBBBIH", packet[:10])
    return flags, seq, dtype, dest, offset, length, packet[10:]


def test_ddp_splits_a_frame_into_byte_offset_packets_and_pushes_the_last():
    with UdpReceiver() as rx:
        device = DdpDevice(name="d", led_count=1000, address="127.0.0.1", port=rx.port)
        frame = _frame(1000)
        _drive(DdpDriver(device, DriverContext()), [frame])
        packets = [_ddp_decode(p) for p in rx.take(3)]
    assert [p[4] for p in packets] == [0, 1440, 2880]  # byte offsets
    assert [p[5] for p in packets] == [1440, 1440, 120]  # 480 + 480 + 40 pixels
    assert [bool(p[0] & 0x01) for p in packets] == [False, False, True]  # PUSH on the last
    assert all(p[0] & 0xC0 == 0x40 and p[2] == 0x0B and p[3] == 1 for p in packets)
    assert len({p[1] for p in packets}) == 1 and 1 <= packets[0][1] <= 15
    assert b"".join(p[6] for p in packets) == frame


def test_ddp_rgbw_uses_its_data_type_and_360_pixels_per_packet():
    with UdpReceiver() as rx:
        device = DdpDevice(name="d", led_count=400, address="127.0.0.1", port=rx.port, rgbw=True)
        frame = _frame(400, 4)
        _drive(DdpDriver(device, DriverContext()), [frame, frame])
        packets = [_ddp_decode(p) for p in rx.take(4)]
    assert [p[5] for p in packets[:2]] == [1440, 160]
    assert all(p[2] == 0x1B for p in packets)
    assert packets[0][1] != packets[2][1]  # the sequence moves per frame
    assert packets[0][6] + packets[1][6] == frame


def test_e131_universes_of_170_pixels_decode_with_an_independent_parser():
    with UdpReceiver() as rx:
        device = E131Device(
            name="e",
            led_count=340,
            address="127.0.0.1",
            port=rx.port,
            universe=5,
            priority=150,
            source_name="Porch",
        )
        frame = _frame(340)
        driver = E131Driver(device, DriverContext())
        _drive(driver, [frame, frame])
        packets = [DataPacket.make_data_packet(p) for p in rx.take(4)]
    assert [p.universe for p in packets] == [5, 6, 5, 6]
    assert all(p.priority == 150 and p.sourceName == "Porch" for p in packets)
    assert bytes(packets[0].dmxData[:510]) == frame[:510]
    assert bytes(packets[1].dmxData[:510]) == frame[510:]
    assert packets[2].sequence == (packets[0].sequence + 1) % 256
    again = E131Driver(device, DriverContext())
    assert tuple(again._cid) == tuple(packets[0].cid)  # a stable CID across restarts
    assert (
        multicast_group(5)
        == DataPacket(cid=tuple(range(16)), sourceName="x", universe=5).calculate_multicast_addr()
    )


def test_names_are_resolved_and_checked_when_the_driver_opens():
    device = DdpDevice(name="d", led_count=3, address="localhost")
    driver = DdpDriver(device, DriverContext())

    async def run():
        await driver.open()
        assert driver.remote[0] in ("127.0.0.1", "::1")
        await driver.close()

    asyncio.run(run())
    # What a name resolving to a public address meets (a literal resolves without DNS).
    with pytest.raises(AddressRefused, match="not a LAN address"):
        asyncio.run(resolve_lan_address("8.8.8.8", 4048))


@pytest.fixture
def bare(tmp_path):
    with LiveServer(tmp_path / "data", demo_on_first_start=False) as live:
        yield live


def _target(c, device_body, **target):
    device = c.post("/api/v1/devices", json=device_body).json()
    source = c.post(
        "/api/v1/sources", json={"name": "s", "kind": "static", "params": {"color": "#ff8040"}}
    ).json()
    body = {
        "name": "t",
        "device_id": device["id"],
        "source_id": source["id"],
        "gamma": 1.0,
        **target,
    }
    return c.post("/api/v1/targets", json=body).json()


def test_a_running_ddp_target_sends_the_corrected_frame(bare):
    with UdpReceiver() as rx, bare.client() as c:
        target = _target(
            c,
            {
                "type": "ddp",
                "name": "d",
                "led_count": 5,
                "address": "127.0.0.1",
                "port": rx.port,
                "color_order": "grb",
            },
            brightness=0.5,
        )
        c.post(f"/api/v1/targets/{target['id']}/start")
        packets = [_ddp_decode(p) for p in rx.take(3)]
        c.post(f"/api/v1/targets/{target['id']}/stop")
        last = _ddp_decode(rx.take(1)[0])
    # #ff8040 at half brightness, gamma 1: (128, 64, 32); green first on the wire.
    assert all(p[6] == bytes([64, 128, 32]) * 5 for p in packets)
    assert last[6] == bytes(15)  # on_stop=black


def test_wled_reads_info_and_hands_the_device_back_on_stop(bare):
    info = {
        "name": "Kitchen",
        "ver": "0.15.0",
        "leds": {"count": 30, "lc": 3},
        "live": True,
        "lip": "192.168.1.77",
        "lm": "DDP",
    }
    with UdpReceiver() as rx, FakeWled(info) as wled, bare.client() as c:
        target = _target(
            c,
            {
                "type": "wled",
                "name": "w",
                "led_count": 4,
                "address": "127.0.0.1",
                "port": rx.port,
                "http_port": wled.port,
            },
            on_stop="leave",
        )
        c.post(f"/api/v1/targets/{target['id']}/start")
        packet = _ddp_decode(rx.take(1)[0])
        assert packet[6] == bytes([255, 128, 64]) * 4
        state = wait_for(
            lambda: (
                (s := c.get(f"/api/v1/targets/{target['id']}/state").json())["device"]
                and s["device"]["details"].get("wled")
                and s
            ),
            what="the WLED details",
        )
        details = state["device"]["details"]
        assert details["wled"]["name"] == "Kitchen"
        assert details["wled"]["led_count"] == 30 and details["wled"]["rgbw"] is True
        assert details["owned_by_other_sender"] == "192.168.1.77"
        c.post(f"/api/v1/targets/{target['id']}/stop")
        assert wled.state_posts == [{"live": False}]


def test_an_unreachable_wled_is_retried_not_fatal(bare):
    with UdpReceiver() as rx, bare.client() as c:
        closed_port = rx.port  # nothing speaks HTTP there
        target = _target(
            c,
            {
                "type": "wled",
                "name": "w",
                "led_count": 4,
                "address": "127.0.0.1",
                "http_port": closed_port,
            },
        )
        c.post(f"/api/v1/targets/{target['id']}/start")
        state = wait_for(
            lambda: (s := c.get(f"/api/v1/targets/{target['id']}/state").json())["errors"] and s,
            what="a failed open",
        )
        # it never sent a frame: "failed" (retrying), not "reconnecting"
        assert state["running"] and state["status"] == "failed"
        assert "does not answer" in state["last_error"]
        assert c.post(f"/api/v1/targets/{target['id']}/stop").json()["running"] is False


@needs_private_network
def test_e131_multicast_reaches_the_universe_groups_in_a_private_namespace():
    # The namespace has only its own loopback: the multicast never reaches a real network.
    report = run_probe_in_private_network("tests.support.e131_send_probe")
    assert report == {"universes": [5, 6], "frame_matches": True}
