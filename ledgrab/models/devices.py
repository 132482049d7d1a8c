"""Device configurations: one msgspec Struct per type, a tagged union on `type`, validated fully.

A Struct that decodes is a device the driver can open: ranges, pin/DMA/channel combinations and
LAN-only addresses are checked here, so a bad request is refused before anything is stored.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from ledgrab.utils.lan_address import LAN_ADDRESS_PATTERN, AddressRefused, check_lan_address
from ledgrab.utils.plain_text import PLAIN_TEXT_PATTERN, check_name

__all__ = [
    "DEVICE_TYPES",
    "E131_UNIVERSE_RULES",
    "WS281X_CHANNEL_RULE",
    "AdalightDevice",
    "CrossFieldError",
    "DdpDevice",
    "DeviceConfig",
    "E131Device",
    "VirtualDevice",
    "WledDevice",
    "Ws281xDevice",
]

MAX_LEDS = 4096
LAST_UNIVERSE = 63999  # E1.31-2016 6.2.7: universes 1..63999
# The patterns are for clients (the OpenAPI document); the server's own checks (check_name,
# check_lan_address) run in __post_init__ and say in words what is wrong.
PlainText = {"pattern": PLAIN_TEXT_PATTERN}
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, extra_json_schema=PlainText)]
LedCount = Annotated[int, msgspec.Meta(ge=1, le=MAX_LEDS)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
ColorOrder = Literal["rgb", "rbg", "grb", "gbr", "brg", "bgr"]
Address = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=253, extra_json_schema={"pattern": LAN_ADDRESS_PATTERN}),
]

# rpi_ws281x drives these GPIOs: PWM channel 0 on 12/18, PWM channel 1 on 13/19, PCM on 21 and
# SPI on 10 (both use channel 0). Other pins have no peripheral that can make the waveform.
WS281X_PIN_CHANNEL = {12: 0, 18: 0, 13: 1, 19: 1, 21: 0, 10: 0}
# DMA channel 5 is used by the SD card controller on Raspberry Pi OS: using it corrupts the card.
WS281X_DMA_FORBIDDEN = {5: "DMA channel 5 is used by the SD card and would corrupt it"}
_SERIAL_RE = re.compile(r"^/dev/[A-Za-z0-9_.:+/-]+$")
# The same rule for clients, written so that a browser's pattern attribute reads it too.
_SERIAL_PATTERN = r"^(?!.*\.\.)\/dev\/[A-Za-z0-9_.:+\/\-]+$"


class CrossFieldError(ValueError):
    """A rule between fields, broken; the message names the field. A PATCH that breaks one is a
    conflict with the stored device (409), a new device that does is invalid (400)."""


class _DeviceBase(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    name: Name
    led_count: LedCount
    color_order: ColorOrder = "rgb"
    rgbw: bool = False

    def __post_init__(self) -> None:
        check_name("name", self.name)


class _NetworkDevice(_DeviceBase, kw_only=True):
    address: Address

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            self.address = check_lan_address(self.address)
        except AddressRefused as exc:
            raise ValueError(f"address: {exc}") from None


class VirtualDevice(_DeviceBase, tag="virtual", kw_only=True):
    """Keeps the last frame in memory; the demo and the tests use it."""


class Ws281xDevice(_DeviceBase, tag="ws281x", kw_only=True):
    color_order: ColorOrder = "grb"  # WS2812 parts take green first
    pin: Annotated[int, msgspec.Meta(extra_json_schema={"enum": sorted(WS281X_PIN_CHANNEL)})] = 18
    dma: Annotated[int, msgspec.Meta(ge=0, le=14, extra_json_schema={"not": {"enum": [5]}})] = 10
    channel: Literal[0, 1] | None = None  # derived from the pin when left out
    strip_type: Literal["ws2811", "ws2812", "sk6812"] = "ws2812"
    invert: bool = False
    # "auto": /dev/leds<n> (Raspberry Pi 5, ws2812-pio overlay) if present, else rpi-ws281x.
    backend: Literal["auto", "rpi_ws281x", "leds_dev"] = "auto"
    leds_index: Annotated[int, msgspec.Meta(ge=0, le=7)] = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pin not in WS281X_PIN_CHANNEL:
            pins = ", ".join(str(p) for p in sorted(WS281X_PIN_CHANNEL))
            raise ValueError(f"pin: GPIO {self.pin} cannot drive WS281x LEDs; use one of {pins}")
        if self.dma in WS281X_DMA_FORBIDDEN:
            raise ValueError(f"dma: {WS281X_DMA_FORBIDDEN[self.dma]}")
        expected = WS281X_PIN_CHANNEL[self.pin]
        if self.channel is None:
            self.channel = expected
        elif self.channel != expected:
            raise CrossFieldError(
                f"channel: GPIO {self.pin} belongs to channel {expected}, not {self.channel}"
            )


class AdalightDevice(_DeviceBase, tag="adalight", kw_only=True):
    serial_port: Annotated[
        str,
        msgspec.Meta(min_length=6, max_length=200, extra_json_schema={"pattern": _SERIAL_PATTERN}),
    ]
    baud_rate: Annotated[int, msgspec.Meta(ge=115200, le=2000000)] = 115200
    protocol: Literal["ada", "awa"] = "ada"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _SERIAL_RE.match(self.serial_port) or ".." in self.serial_port:
            raise ValueError(f"serial_port: {self.serial_port!r} is not a device path under /dev/")


class WledDevice(_NetworkDevice, tag="wled", kw_only=True):
    port: Port = 4048  # DDP
    http_port: Port = 80


class DdpDevice(_NetworkDevice, tag="ddp", kw_only=True):
    port: Port = 4048
    destination: Annotated[int, msgspec.Meta(ge=1, le=255)] = 1


class E131Device(_NetworkDevice, tag="e131", kw_only=True):
    address: Address = "127.0.0.1"  # ignored in multicast mode
    port: Port = 5568
    universe: Annotated[int, msgspec.Meta(ge=1, le=LAST_UNIVERSE)] = 1
    multicast: bool = False
    priority: Annotated[int, msgspec.Meta(ge=0, le=200)] = 100
    source_name: Annotated[
        str, msgspec.Meta(min_length=1, max_length=63, extra_json_schema=PlainText)
    ] = "LedGrab"

    @property
    def pixels_per_universe(self) -> int:
        return pixels_per_universe(self.rgbw)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_name("source_name", self.source_name)
        last = self.universe + (self.led_count - 1) // self.pixels_per_universe
        if last > LAST_UNIVERSE:
            room = (LAST_UNIVERSE + 1 - self.universe) * self.pixels_per_universe
            raise CrossFieldError(
                f"universe: {self.led_count} LEDs from universe {self.universe} pass "
                f"{LAST_UNIVERSE}; start at universe {LAST_UNIVERSE + 1 - _universes(self)} or "
                f"below, or use at most {room} LEDs"
            )


def pixels_per_universe(rgbw: bool) -> int:
    return 128 if rgbw else 170  # 512 DMX slots; whole pixels only


def _universes(device: E131Device) -> int:
    return -(-device.led_count // device.pixels_per_universe)


def _e131_rules() -> list[dict]:
    """E131Device's universe rule as JSON Schema: from each of the last few universes, at most
    the LEDs that still fit (n universes hold n * pixels_per_universe); rgbw left out is false."""
    rules = []
    for rgbw in (False, True):
        per = pixels_per_universe(rgbw)
        spare = 0  # universes after the first one
        while (spare + 1) * per < MAX_LEDS:
            when = {"universe": {"minimum": LAST_UNIVERSE - spare}, "rgbw": {"const": rgbw}}
            rules.append(
                {
                    "if": {"properties": when, "required": ["universe", "rgbw"][: 1 + rgbw]},
                    "then": {"properties": {"led_count": {"maximum": (spare + 1) * per}}},
                }
            )
            spare += 1
    return rules


# For clients, the universe rule of E131Device.__post_init__ (added to the e131 schemas by the
# OpenAPI document): if/then pairs, which generators and validators alike read.
E131_UNIVERSE_RULES = _e131_rules()

# For clients, the pin/channel rule of Ws281xDevice.__post_init__ as JSON Schema (added to the
# ws281x schemas by the OpenAPI document).
_CHANNEL_PINS = {ch: [p for p, c in WS281X_PIN_CHANNEL.items() if c == ch] for ch in (0, 1)}
WS281X_CHANNEL_RULE = {
    "if": {"properties": {"pin": {"enum": _CHANNEL_PINS[1]}}, "required": ["pin"]},
    "then": {"properties": {"channel": {"enum": [1, None]}}},
    "else": {"properties": {"channel": {"enum": [0, None]}}},
}
DeviceConfig = VirtualDevice | Ws281xDevice | AdalightDevice | WledDevice | DdpDevice | E131Device
DEVICE_TYPES: dict[str, type[_DeviceBase]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (VirtualDevice, Ws281xDevice, AdalightDevice, WledDevice, DdpDevice, E131Device)
}
