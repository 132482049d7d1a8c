"""Realistic activity entries for the benchmarks: the mix a busy LedGrab produces."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import msgspec

__all__ = ["ACTORS", "DEVICES", "entry_kwargs", "fill_rows", "info_entry_kwargs"]

ACTORS = ["system", "admin", "kitchen-tablet", "home-assistant", "anonymous"]
DEVICES = [
    (f"dev{i}", f"{name} strip")
    for i, name in enumerate(["Desk", "Shelf", "TV", "Kitchen", "Hall", "Porch", "Bed", "Stairs"])
]
_KINDS = [
    # weight, category, action, severity
    (40, "device", "device.connected", "info"),
    (20, "device", "device.disconnected", "warning"),
    (15, "entity", "device.updated", "info"),
    (8, "system", "capture.started", "info"),
    (8, "system", "capture.stopped", "info"),
    (5, "auth", "auth.failed", "warning"),
    (3, "device", "device.failed", "error"),
    (1, "system", "server.started", "critical"),
]
_WEIGHTS = [k[0] for k in _KINDS]


def entry_kwargs(rng: random.Random) -> dict[str, Any]:
    """Keyword arguments for `ActivityRecorder.record`."""
    _, category, action, severity = rng.choices(_KINDS, _WEIGHTS)[0]
    dev_id, dev_name = rng.choice(DEVICES)
    address = f"192.168.1.{rng.randint(2, 254)}"
    return {
        "category": category,
        "action": action,
        "severity": severity,
        "actor": rng.choice(ACTORS),
        "entity_type": "device",
        "entity_id": dev_id,
        "entity_name": dev_name,
        "message": f'Device "{dev_name}" {action.split(".")[1]} at {address}',
        "metadata": {"address": address, "port": 4048, "fields": ["brightness"]},
    }


def info_entry_kwargs(rng: random.Random) -> dict[str, Any]:
    """As entry_kwargs, but never an entry that asks for an immediate commit."""
    while True:
        kwargs = entry_kwargs(rng)
        if kwargs["category"] != "auth" and kwargs["severity"] in ("info", "warning"):
            return kwargs


def fill_rows(n: int, seed: int = 1, span_days: float = 60) -> Iterator[tuple]:
    """`n` storage rows (ActivityLogRepository.insert_rows order), oldest first, spread evenly
    over the last `span_days` days."""
    rng = random.Random(seed)
    end_us = int(time.time() * 1_000_000)
    step = int(span_days * 86_400 * 1_000_000 / max(n, 1))
    start = end_us - step * n
    for i in range(n):
        kw = entry_kwargs(rng)
        ts = start + i * step
        yield (
            f"{ts:014x}{i & 0xFFFFFF:06x}",
            ts,
            kw["category"],
            kw["action"],
            kw["severity"],
            kw["actor"],
            kw["message"],
            kw["entity_type"],
            kw["entity_id"],
            kw["entity_name"],
            msgspec.json.encode(kw["metadata"]).decode(),
        )
