"""Source kinds: name -> (params Struct, factory); decode_params() and build_source() use them.

`register_source_kind()` lets another module add a kind (network capture does) without touching
this file. A factory gets the validated params Struct and returns a FrameSource (see base.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from ledgrab.core.effects import organic, patterns
from ledgrab.core.effects.base import FrameSource
from ledgrab.models.effects import EFFECT_PARAMS

__all__ = [
    "SOURCE_KINDS",
    "SourceKind",
    "build_source",
    "decode_params",
    "register_source_kind",
]


@dataclass(frozen=True)
class SourceKind:
    name: str
    params_type: type[msgspec.Struct]
    factory: Callable[[Any], FrameSource]
    description: str = ""


SOURCE_KINDS: dict[str, SourceKind] = {}


def register_source_kind(kind: SourceKind) -> None:
    SOURCE_KINDS[kind.name] = kind


for _name, _factory, _description in (
    ("static", patterns.Static, "one colour"),
    ("gradient", patterns.Gradient, "colour stops"),
    ("rainbow", patterns.Rainbow, "moving hue wheel"),
    ("breathing", patterns.Breathing, "fade in and out"),
    ("chase", patterns.Chase, "comets with tails"),
    ("fire", organic.Fire, "flickering flames"),
    ("twinkle", organic.Twinkle, "random twinkling"),
    ("noise", organic.Noise, "flowing value noise"),
):
    register_source_kind(SourceKind(_name, EFFECT_PARAMS[_name], _factory, _description))


def decode_params(kind: str, raw: dict[str, Any]) -> msgspec.Struct:
    """Validate `raw` as the params of `kind`; raise ValueError naming what is wrong."""
    if kind not in SOURCE_KINDS:
        raise ValueError(f"unknown source kind {kind!r}; expected one of {', '.join(SOURCE_KINDS)}")
    try:
        return msgspec.convert(raw, SOURCE_KINDS[kind].params_type)
    except msgspec.ValidationError as exc:
        raise ValueError(f"params: {exc}") from None


def build_source(kind: str, params: msgspec.Struct) -> FrameSource:
    return SOURCE_KINDS[kind].factory(params)
