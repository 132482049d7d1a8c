"""Blocking, bounded reads of a WLED's JSON API (`/json/info`); call them off the event loop."""

from __future__ import annotations

import http.client
import time
from typing import Any

import msgspec

from ledgrab.utils.plain_text import displayable

__all__ = ["WledInfo", "WledUnreachable", "fetch_wled_info"]

# A WLED answers /json/info with a few kB; anything far larger is not a WLED.
_MAX_BODY = 64 * 1024


class WledUnreachable(Exception):
    """The device did not answer its JSON API; the message says why."""


class WledInfo(msgspec.Struct):
    name: str | None
    led_count: int | None
    mac: str | None
    version: str | None
    latency_ms: float


def fetch_wled_info(host: str, port: int = 80, timeout_s: float = 2.0) -> WledInfo:
    """GET http://host:port/json/info; raise WledUnreachable with the reason on any failure."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/json/info", headers={"Accept": "application/json"})
        response = conn.getresponse()
        body = response.read(_MAX_BODY + 1)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        raise WledUnreachable(f"{host}:{port}: {exc or type(exc).__name__}") from None
    finally:
        conn.close()
    latency_ms = (time.perf_counter() - started) * 1000
    if status != 200:
        raise WledUnreachable(f"{host}:{port}: /json/info answered HTTP {status}")
    if len(body) > _MAX_BODY:
        raise WledUnreachable(f"{host}:{port}: /json/info answer is larger than {_MAX_BODY} bytes")
    try:
        info: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise WledUnreachable(f"{host}:{port}: /json/info is not JSON") from None
    if not isinstance(info, dict):
        raise WledUnreachable(f"{host}:{port}: /json/info is not a JSON object")
    leds = info.get("leds")
    count = leds.get("count") if isinstance(leds, dict) else None
    return WledInfo(
        name=_text(info.get("name")),
        led_count=count if isinstance(count, int) and count >= 0 else None,
        mac=_text(info.get("mac")),
        version=_text(info.get("ver")),
        latency_ms=round(latency_ms, 2),
    )


def _text(value: Any) -> str | None:
    # What a device on the LAN says about itself: shown and logged, so made displayable.
    return displayable(value) if isinstance(value, str) and value else None
