"""Set-up through the entity API: a static colour on a device, as one started target."""

from __future__ import annotations

from typing import Any

__all__ = ["start_static_target"]


def start_static_target(
    client: Any, device: dict[str, Any], color: str, name: str = "t"
) -> tuple[str, dict]:
    """Create `device`, a static `color` source and a target `name` (gamma 1, 120 fps)
    joining them, start it; return (the target's id, the state the start answered)."""
    device_id = client.post("/api/v1/devices", json=device).json()["id"]
    source = {"name": "s", "kind": "static", "params": {"color": color}}
    source_id = client.post("/api/v1/sources", json=source).json()["id"]
    target = {"name": name, "device_id": device_id, "source_id": source_id, "gamma": 1.0}
    target_id = client.post("/api/v1/targets", json={**target, "fps": 120}).json()["id"]
    return target_id, client.post(f"/api/v1/targets/{target_id}/start").json()
