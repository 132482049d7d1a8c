"""Geometric effects: static, gradient, rainbow, breathing, chase; each a pure function of time.

Moving ones read a precomputed Tape (see tape.py), so a frame costs a few slices, not a loop.
"""

from __future__ import annotations

import colorsys
import math

from ledgrab.core.effects.base import hex_to_rgb, solid
from ledgrab.core.effects.tape import Tape
from ledgrab.models.effects import (
    BreathingParams,
    ChaseParams,
    Color,
    GradientParams,
    RainbowParams,
    StaticParams,
)

__all__ = [
    "Breathing",
    "BreathingParams",
    "Chase",
    "ChaseParams",
    "Color",
    "Gradient",
    "GradientParams",
    "Rainbow",
    "RainbowParams",
    "Static",
    "StaticParams",
]


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * f),
        round(a[1] + (b[1] - a[1]) * f),
        round(a[2] + (b[2] - a[2]) * f),
    )


class _TapeEffect:
    """Caches one Tape per strip length; subclasses say the period and the picture."""

    def __init__(self) -> None:
        self._tape: Tape | None = None

    def _period(self, led_count: int) -> float:
        raise NotImplementedError

    def _color_at(self, x: float) -> tuple[int, int, int]:
        raise NotImplementedError

    def _offset(self, t: float, led_count: int) -> float:
        raise NotImplementedError

    def render(self, t: float, led_count: int) -> bytes:
        tape = self._tape
        if tape is None or tape.led_count != led_count:
            tape = self._tape = Tape(self._period(led_count), led_count, self._color_at)
        return tape.read(self._offset(t, led_count))


class Static:
    def __init__(self, params: StaticParams) -> None:
        self._rgb = hex_to_rgb(params.color)
        self._frame = b""

    def render(self, t: float, led_count: int) -> bytes:
        if len(self._frame) != led_count * 3:
            self._frame = solid(self._rgb, led_count)
        return self._frame


class Gradient(_TapeEffect):
    """Colour stops spread over the strip; when moving, the last blends back into the first."""

    def __init__(self, params: GradientParams) -> None:
        super().__init__()
        self._stops = [hex_to_rgb(c) for c in params.colors]
        self._speed = params.speed
        if self._speed:
            self._stops.append(self._stops[0])

    def _period(self, led_count: int) -> float:
        return led_count

    def _color_at(self, x: float) -> tuple[int, int, int]:
        pos = x * (len(self._stops) - 1)
        i = min(int(pos), len(self._stops) - 2)
        return _mix(self._stops[i], self._stops[i + 1], pos - i)

    def _offset(self, t: float, led_count: int) -> float:
        return t * self._speed * led_count


class Rainbow(_TapeEffect):
    def __init__(self, params: RainbowParams) -> None:
        super().__init__()
        self._p = params

    def _period(self, led_count: int) -> float:
        return led_count / self._p.cycles

    def _color_at(self, x: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb(x, self._p.saturation, 1.0)
        return round(r * 255), round(g * 255), round(b * 255)

    def _offset(self, t: float, led_count: int) -> float:
        return t * self._p.speed * self._period(led_count)


class Breathing:
    """The whole strip fades in and out along a raised cosine."""

    def __init__(self, params: BreathingParams) -> None:
        self._rgb = hex_to_rgb(params.color)
        self._period = params.period_s

    def render(self, t: float, led_count: int) -> bytes:
        level = 0.5 - 0.5 * math.cos(2 * math.pi * t / self._period)
        return solid(_mix((0, 0, 0), self._rgb, level), led_count)


class Chase(_TapeEffect):
    """Comets with a fading tail, `count` of them evenly spaced, moving `speed` LEDs a second."""

    def __init__(self, params: ChaseParams) -> None:
        super().__init__()
        self._p = params
        self._fg = hex_to_rgb(params.color)
        self._bg = hex_to_rgb(params.background)
        self._spacing = 1.0

    def _period(self, led_count: int) -> float:
        self._spacing = led_count / self._p.count
        return self._spacing

    def _color_at(self, x: float) -> tuple[int, int, int]:
        # The head sits at x = 0; its tail trails against the direction of travel.
        behind = (x if self._p.speed < 0 else (-x) % 1.0) * self._spacing
        if behind >= self._p.tail:
            return self._bg
        return _mix(self._bg, self._fg, (1.0 - behind / self._p.tail) ** 2)

    def _offset(self, t: float, led_count: int) -> float:
        return t * self._p.speed
