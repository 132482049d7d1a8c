"""Tape: a periodic colour pattern sampled at sub-LED steps; a frame is three strided slices.

Moving patterns (rainbow, scrolling gradient, comets) are the same picture shifted along the
strip. Sampling the picture once into per-channel byte planes turns every frame into C-speed
slicing (`plane[start : start + n*SUB : SUB]`) and interleaving (`out[0::3] = r`) instead of a
Python loop per pixel: about a microsecond for 300 LEDs against a few hundred for the loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["MAX_PERIOD_UNITS", "SUB", "Tape"]

# Sub-LED steps per LED: at 60 fps a slow pattern moves a fraction of an LED per frame, and
# 1/8 LED steps are smooth to the eye while keeping the planes small (3*8 bytes per LED).
SUB = 8
# Longest period, in samples: bounds the planes (3 * 64 KiB) whatever the parameters say.
MAX_PERIOD_UNITS = 65536


class Tape:
    """`color_at(x)` for x in [0, 1) over one period of `period` LEDs, readable at any offset."""

    def __init__(
        self, period: float, led_count: int, color_at: Callable[[float], tuple[int, int, int]]
    ) -> None:
        self.led_count = led_count
        self.period_units = max(1, round(period * SUB))
        if self.period_units > MAX_PERIOD_UNITS:
            raise ValueError(f"a pattern period of {period:.0f} LEDs is too long")
        samples = [color_at(u / self.period_units) for u in range(self.period_units)]
        needed = self.period_units + led_count * SUB
        repeats = math.ceil(needed / self.period_units)
        self._planes = tuple(
            (bytes(sample[c] for sample in samples) * repeats)[:needed] for c in range(3)
        )
        self._out = bytearray(led_count * 3)

    def read(self, offset_leds: float) -> bytes:
        """The strip's colours with the pattern shifted forward by `offset_leds` LEDs."""
        start = (-round(offset_leds * SUB)) % self.period_units
        stop = start + self.led_count * SUB
        out = self._out
        red, green, blue = self._planes
        out[0::3] = red[start:stop:SUB]
        out[1::3] = green[start:stop:SUB]
        out[2::3] = blue[start:stop:SUB]
        return bytes(out)
