"""WLED: pixels over DDP (UDP 4048); LED count, name, RGBW and current owner from /json/info.

Stopping sends `{"live": false}` to /json/state, which makes WLED leave realtime mode at once
and go back to its own effect. LedGrab never sends `{"live": true}`: that locks WLED in realtime
mode until someone unlocks it, so a crashed sender would leave the device stuck.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import msgspec

from ledgrab.core.devices.ddp import DdpDriver

__all__ = ["WledDriver", "WledInfo", "parse_wled_info"]

log = logging.getLogger(__name__)
_MAX_INFO_BYTES = 64 * 1024  # /json/info is ~2 KiB; anything far bigger is not WLED
_WHITE_CHANNEL = 0x02  # bit 1 of info.leds.lc: the strip has a white channel


class WledInfo(msgspec.Struct, kw_only=True):
    """What LedGrab uses of /json/info."""

    name: str | None
    version: str | None
    led_count: int | None
    rgbw: bool
    live: bool
    live_ip: str | None
    live_mode: str | None


def parse_wled_info(raw: dict[str, Any]) -> WledInfo:
    leds = raw.get("leds") or {}
    lc = leds.get("lc", 0) or 0
    return WledInfo(
        name=raw.get("name"),
        version=raw.get("ver"),
        led_count=leds.get("count"),
        rgbw=bool(leds.get("rgbw")) or bool(lc & _WHITE_CHANNEL),
        live=bool(raw.get("live")),
        live_ip=raw.get("lip") or None,
        live_mode=raw.get("lm") or None,
    )


class WledDriver(DdpDriver):
    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config, context)
        self.info: WledInfo | None = None
        self.owner: str | None = None

    def _http_base(self) -> str:
        host = self.remote[0] if self.remote else self.config.address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.config.http_port}"

    async def open(self) -> None:
        await super().open()  # resolves and checks the address first
        try:
            async with httpx.AsyncClient(timeout=self._context.http_timeout_s) as client:
                response = await client.get(self._http_base() + "/json/info")
                response.raise_for_status()
                if len(response.content) > _MAX_INFO_BYTES:
                    raise ValueError("the /json/info answer is too large")
                self.info = parse_wled_info(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            await super().close()
            raise self._fail(f"WLED at {self.config.address} does not answer: {exc}") from None
        local_ip = self._transport.get_extra_info("sockname")[0] if self._transport else None
        live_ip = self.info.live_ip
        busy = self.info.live and live_ip not in (None, "", "0.0.0.0", local_ip)
        self.owner = live_ip if busy else None
        if busy:
            log.warning(
                "WLED %s is already receiving realtime data from %s", self.config.address, live_ip
            )

    async def close(self, *, restore: bool = False) -> None:
        was_open = self._transport is not None
        await super().close()
        if not was_open:
            return
        try:
            async with httpx.AsyncClient(timeout=self._context.http_timeout_s) as client:
                await client.post(self._http_base() + "/json/state", json={"live": False})
        except httpx.HTTPError as exc:
            # WLED also leaves realtime mode by itself after its timeout (2.5 s by default).
            log.info("could not hand WLED %s back to its own state: %s", self.config.address, exc)

    def details(self) -> dict[str, Any]:
        return {**super().details(), "wled": self.info, "owned_by_other_sender": self.owner}
