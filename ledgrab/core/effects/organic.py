"""Organic effects: fire, twinkle, noise; deterministic in time (hashed lattice, no state).

Each computes one brightness/heat level per LED (the only per-pixel Python work), then maps the
levels through 256-entry channel tables with bytes.translate, so colour costs C speed.
"""

from __future__ import annotations

import math
import random
from array import array

from ledgrab.core.effects.base import hex_to_rgb
from ledgrab.models.effects import FireParams, NoiseParams, TwinkleParams

__all__ = [
    "Fire",
    "FireParams",
    "Noise",
    "NoiseParams",
    "Twinkle",
    "TwinkleParams",
]

_LATTICE = 256  # columns (along the strip); rows (along time) wrap at _ROWS
_ROWS = 64
# A fixed seed: the same parameters and time always give the same frame, on every device.
# array('f'): 64 KiB, where a list of floats would take a megabyte of a 512 MB board.
_RNG = random.Random(0x1ED)
_VALUES = array("f", (_RNG.random() for _ in range(_LATTICE * _ROWS)))
del _RNG


def _ramp(stops: list[tuple[int, int, int]]) -> tuple[bytes, bytes, bytes]:
    """Three 256-entry translate tables mapping a level to a colour along `stops`."""
    channels: list[bytearray] = [bytearray(256), bytearray(256), bytearray(256)]
    for level in range(256):
        pos = level / 255 * (len(stops) - 1)
        i = min(int(pos), len(stops) - 2)
        f = pos - i
        for c in range(3):
            channels[c][level] = round(stops[i][c] + (stops[i + 1][c] - stops[i][c]) * f)
    return bytes(channels[0]), bytes(channels[1]), bytes(channels[2])


def _colorize(levels: bytes, tables: tuple[bytes, bytes, bytes]) -> bytes:
    out = bytearray(len(levels) * 3)
    out[0::3] = levels.translate(tables[0])
    out[1::3] = levels.translate(tables[1])
    out[2::3] = levels.translate(tables[2])
    return bytes(out)


class _Grid:
    """Per-strip precomputation of value noise along x: lattice cell and smoothed weight."""

    def __init__(self, led_count: int, scale: float) -> None:
        self.led_count = led_count
        xs = [i / scale for i in range(led_count)]
        self.cells = [int(x) for x in xs]
        self.weights = [(x - int(x)) ** 2 * (3 - 2 * (x - int(x))) for x in xs]
        self.columns = self.cells[-1] + 2 if xs else 2

    def sample(self, t: float, row_offset: int = 0) -> list[float]:
        """Value noise at every LED for time t (bilinear on the lattice, smoothstep weights)."""
        row = int(t)
        ft = t - row
        ft = ft * ft * (3 - 2 * ft)
        base0 = ((row + row_offset) % _ROWS) * _LATTICE
        base1 = ((row + row_offset + 1) % _ROWS) * _LATTICE
        col = [
            _VALUES[base0 + c % _LATTICE] * (1 - ft) + _VALUES[base1 + c % _LATTICE] * ft
            for c in range(self.columns)
        ]
        return [
            col[c] + (col[c + 1] - col[c]) * w
            for c, w in zip(self.cells, self.weights, strict=True)
        ]


class _GridEffect:
    def __init__(self, scale: float) -> None:
        self._scale = scale
        self._grid: _Grid | None = None

    def _grid_for(self, led_count: int) -> _Grid:
        if self._grid is None or self._grid.led_count != led_count:
            self._grid = _Grid(led_count, self._scale)
        return self._grid


class Noise(_GridEffect):
    def __init__(self, params: NoiseParams) -> None:
        super().__init__(params.scale)
        self._speed = params.speed
        self._tables = _ramp([hex_to_rgb(c) for c in params.colors])

    def render(self, t: float, led_count: int) -> bytes:
        values = self._grid_for(led_count).sample(t * self._speed)
        return _colorize(bytes(min(255, int(v * 256)) for v in values), self._tables)


class Fire(_GridEffect):
    """Flickering heat, hottest at the strip's start, through a black-red-yellow-white ramp."""

    _RAMP = _ramp([(0, 0, 0), (160, 0, 0), (255, 60, 0), (255, 180, 0), (255, 255, 160)])

    def __init__(self, params: FireParams) -> None:
        super().__init__(params.scale)
        self._p = params
        self._falloff: list[float] = []

    def render(self, t: float, led_count: int) -> bytes:
        grid = self._grid_for(led_count)
        if len(self._falloff) != led_count:
            self._falloff = [
                self._p.intensity * (1.0 - 0.7 * i / max(1, led_count - 1))
                for i in range(led_count)
            ]
        fast = grid.sample(t * self._p.speed * 4.0, row_offset=97)
        slow = grid.sample(t * self._p.speed, row_offset=13)
        levels = bytes(
            min(255, int((0.6 * a + 0.6 * b) * f * 255))
            for a, b, f in zip(fast, slow, self._falloff, strict=True)
        )
        return _colorize(levels, self._RAMP)


class Twinkle:
    """Each LED has its own phase and rate; in a cycle it lights with probability `density`."""

    def __init__(self, params: TwinkleParams) -> None:
        self._p = params
        self._tables = _ramp([hex_to_rgb(params.background), hex_to_rgb(params.color)])
        self._phases: list[tuple[float, float, int]] = []

    def render(self, t: float, led_count: int) -> bytes:
        if len(self._phases) != led_count:
            rng = random.Random(led_count)
            self._phases = [
                (rng.random(), self._p.speed * (0.5 + rng.random()), rng.randrange(_ROWS))
                for _ in range(led_count)
            ]
        density = self._p.density
        sin = math.sin
        pi = math.pi
        levels = bytearray(led_count)
        for i, (phase, rate, salt) in enumerate(self._phases):
            c = t * rate + phase
            cycle = int(c)
            if _VALUES[salt * _LATTICE + cycle % _LATTICE] < density:
                levels[i] = int(255 * sin(pi * (c - cycle)) ** 2)
        return _colorize(bytes(levels), self._tables)
