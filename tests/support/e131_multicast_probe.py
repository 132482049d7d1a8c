"""Run inside `unshare -n`: receive E1.31 multicast from the `sacn` sender; print a JSON report."""

from __future__ import annotations

import asyncio
import json
import time

import sacn
import sacn.sending.sender_socket_udp

from ledgrab.core.effects.capture_receiver import CaptureHub


async def main() -> dict:
    hub = CaptureHub(bind_host="0.0.0.0", multicast=True, multicast_interface="127.0.0.1")
    target = hub.open_input(protocol="e131", port=0, led_count=340, timeout_s=2.5, universe=7)
    port = hub.bound_port(target)
    sacn.sending.sender_socket_udp.DEFAULT_PORT = port
    sender = sacn.sACNsender(
        bind_address="127.0.0.1", bind_port=0, source_name="multicaster", universeDiscovery=False
    )
    data = {u: tuple((i + u) % 256 for i in range(510)) for u in (7, 8)}
    for universe, values in data.items():
        sender.activate_output(universe)
        sender[universe].multicast = True
        sender[universe].ttl = 0
        sender[universe].dmx_data = values
    expected = bytes(data[7]) + bytes(data[8])
    sender.start()
    try:
        deadline = time.monotonic() + 20
        while target.frame() != expected and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return {
            "groups": hub.multicast_groups(port),
            "frame_matches": target.frame() == expected,
            "sender": target.sender_label,
        }
    finally:
        await asyncio.to_thread(sender.stop)
        hub.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
