"""Names that devices on the LAN give themselves (mDNS instance names, WLED's /json/info, an
E1.31 sender's source name) reach the log, the events and the UI with control and bidirectional
characters replaced by U+FFFD; the device itself is still found."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
from sacn.messages.data_packet import DataPacket

from ledgrab.core.devices.discovery_watcher import DiscoveryWatcher
from ledgrab.core.devices.wled_info import fetch_wled_info
from ledgrab.core.effects.capture_packets import parse_e131
from ledgrab.core.event_bus import EventBus
from tests.support.fake_wled import AdvertiserProcess, FakeWled

HOSTILE = "\x1b[2J\u202eevil\x07"
SHOWN = "\ufffd[2J\ufffdevil\ufffd"
# python-zeroconf refuses to announce C0 controls, so the mDNS case carries bidi and C1 ones.
MDNS_HOSTILE = "\u202eevil\u2066x\x85"
MDNS_SHOWN = "\ufffdevil\ufffdx\ufffd"


def test_wled_info_name_is_made_displayable():
    with FakeWled(name="Kitchen" + HOSTILE) as wled:
        info = fetch_wled_info("127.0.0.1", wled.port)
    assert info.name == "Kitchen" + SHOWN
    assert info.led_count == 30  # the rest of the answer is used as before


def test_e131_source_name_is_made_displayable():
    packet = DataPacket(
        cid=tuple(range(16)), sourceName="desk" + HOSTILE, universe=1, dmxData=(1, 2, 3)
    )
    parsed = parse_e131(bytearray(packet.getBytes()))
    assert parsed is not None
    assert parsed.source_name == "desk" + SHOWN
    assert bytes(parsed.data[:3]) == b"\x01\x02\x03"


def test_mdns_instance_name_is_made_displayable_and_the_device_listed():
    tag = uuid.uuid4().hex[:8]
    name = f"wled-{tag}{MDNS_HOSTILE}"

    async def scenario(wled_port: int) -> None:
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        sub = bus.subscribe(["device_discovered"])
        watcher = DiscoveryWatcher(bus, interfaces=["127.0.0.1"])
        await watcher.start()
        advertiser = await asyncio.to_thread(AdvertiserProcess, name, wled_port)
        try:
            assert await asyncio.to_thread(advertiser.wait_line) == "registered"
            while True:  # other runs may share loopback mDNS: wait for ours
                event = msgspec.json.decode(await asyncio.wait_for(sub.get(), 20))
                if tag in event["device"]["name"]:
                    break
            assert event["device"]["name"] == f"wled-{tag}{MDNS_SHOWN}"
            assert event["device"]["port"] == wled_port
            assert f"wled-{tag}{MDNS_SHOWN}" in [d.name for d in watcher.devices()]
        finally:
            await asyncio.to_thread(advertiser.stop)
            await watcher.stop()
            bus.unbind()

    with FakeWled() as wled:
        asyncio.run(scenario(wled.port))
