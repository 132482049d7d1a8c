"""Run inside `unshare -n` after UNREACHABLE_SEGMENT: a server checks a DDP and an E1.31 device
at 10.77.0.254, an address on its LAN segment that nobody has; print their states as JSON."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tests.support.live_server import LiveServer, wait_for

# A LAN segment of its own: this end 10.77.0.1/24, the other end of the veth pair up and silent.
UNREACHABLE_SEGMENT = (
    "ip link add lan0 type veth peer name lan1 && ip addr add 10.77.0.1/24 dev lan0 && "
    "ip link set lan0 up && ip link set lan1 up"
)
NOBODY = "10.77.0.254"


def main() -> dict:
    health = {"enabled": True, "interval_s": 0.5, "max_interval_s": 1.0, "timeout_s": 4.0}
    states = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        LiveServer(Path(tmp) / "data", health=health, demo_on_first_start=False) as live,
        live.client() as client,
    ):
        for kind in ("ddp", "e131"):
            body = {"name": kind, "type": kind, "led_count": 10, "address": NOBODY}
            device_id = client.post("/api/v1/devices", json=body).json()["id"]
            states[kind] = wait_for(
                lambda d=device_id: (
                    (s := client.get(f"/api/v1/devices/{d}/state").json())["state"] != "unknown"
                    and s
                ),
                timeout=60,
                what=f"the first check of the {kind} device",
            )
    return states


if __name__ == "__main__":
    print(json.dumps(main()))
