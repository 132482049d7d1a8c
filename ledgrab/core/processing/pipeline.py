"""Pipeline: brightness+gamma (one translate table), colour order, RGBW white; wire fps caps.

Everything per frame is a C-level bytes operation: `bytes.translate` for the 256-entry table and
extended-slice assignment for the channel order. Only RGBW extraction maps per pixel, and it does
so with `map(min, ...)`, which iterates in C.
"""

from __future__ import annotations

import operator

from ledgrab.models.devices import DeviceConfig, Ws281xDevice

__all__ = ["Pipeline", "brightness_table", "wire_fps_limit"]

_CHANNEL = {"r": 0, "g": 1, "b": 2}
# WS281x: 1.25 µs per bit, 24 bits per RGB LED (32 for RGBW), then a >280 µs latch (WS2812B-V5).
_WS281X_BIT_S = 1.25e-6
_WS281X_LATCH_S = 300e-6
_SERIAL_BITS_PER_BYTE = 10  # start + 8 data + stop


def brightness_table(brightness: float, gamma: float) -> bytes:
    """out = 255 * (in/255) ** gamma * brightness, rounded: the whole colour correction."""
    return bytes(round(255 * (v / 255) ** gamma * brightness) for v in range(256))


class Pipeline:
    def __init__(
        self, led_count: int, *, brightness: float, gamma: float, order: str, rgbw: bool
    ) -> None:
        self.led_count = led_count
        self.table = brightness_table(brightness, gamma)
        self.rgbw = rgbw
        self._order = tuple(_CHANNEL[c] for c in order)
        self._identity = self._order == (0, 1, 2) and not rgbw

    def apply(self, frame: bytes | bytearray) -> bytes:
        """RGB frame (3 bytes per LED) in; wire bytes (3 or 4 per LED, device order) out."""
        data = frame.translate(self.table)
        if self._identity:
            return bytes(data)
        r, g, b = data[0::3], data[1::3], data[2::3]
        if self.rgbw:
            # The white LED takes the part the three colours share.
            w = bytes(map(min, r, g, b))
            r = bytes(map(operator.sub, r, w))
            g = bytes(map(operator.sub, g, w))
            b = bytes(map(operator.sub, b, w))
        planes = (r, g, b)
        step = 4 if self.rgbw else 3
        out = bytearray(len(r) * step)
        for slot, channel in enumerate(self._order):
            out[slot::step] = planes[channel]
        if self.rgbw:
            out[3::4] = w
        return bytes(out)


def wire_fps_limit(device: DeviceConfig) -> tuple[float | None, str | None]:
    """The most frames per second the device's line can carry, and why (None: no line limit)."""
    n = device.led_count
    bytes_per_led = 4 if device.rgbw else 3
    if isinstance(device, Ws281xDevice):
        seconds = n * bytes_per_led * 8 * _WS281X_BIT_S + _WS281X_LATCH_S
        fps = 1.0 / seconds
        return fps, (
            f"a WS281x line carries at most {fps:.0f} fps for {n} LEDs "
            f"({bytes_per_led * 8 * _WS281X_BIT_S * 1e6:.0f} µs per LED plus the latch)"
        )
    if device.__struct_config__.tag == "adalight":
        header = 6 if device.protocol == "ada" else 9  # "Awa" adds a 3-byte Fletcher trailer
        frame_bytes = header + n * bytes_per_led
        fps = device.baud_rate / (_SERIAL_BITS_PER_BYTE * frame_bytes)
        return fps, (
            f"a serial line at {device.baud_rate} baud carries at most {fps:.0f} fps of "
            f"{frame_bytes} bytes (10 bits per byte)"
        )
    return None, None
