"""Run inside `unshare -n`: the E1.31 driver multicasts one frame; print what arrived as JSON."""

from __future__ import annotations

import asyncio
import json
import socket

from sacn.messages.data_packet import DataPacket

from ledgrab.core.devices.e131 import E131Driver, multicast_group
from ledgrab.core.devices.factory import DriverContext
from ledgrab.models.devices import E131Device


def main() -> dict:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("0.0.0.0", 0))
    port = receiver.getsockname()[1]
    for universe in (5, 6):
        group = socket.inet_aton(multicast_group(universe)) + socket.inet_aton("127.0.0.1")
        receiver.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
    receiver.settimeout(10)
    device = E131Device(name="m", led_count=340, universe=5, multicast=True, port=port)
    driver = E131Driver(device, DriverContext())
    frame = bytes(i % 256 for i in range(340 * 3))

    async def send() -> None:
        await driver.open()
        driver.send(frame)
        await driver.close()

    asyncio.run(send())
    packets = []
    for _ in range(2):
        data = receiver.recv(1500)
        packets.append(DataPacket.make_data_packet(data))
    receiver.close()
    by_universe = {p.universe: bytes(p.dmxData[:510]) for p in packets}
    return {
        "universes": sorted(by_universe),
        "frame_matches": by_universe.get(5, b"") + by_universe.get(6, b"") == frame,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
