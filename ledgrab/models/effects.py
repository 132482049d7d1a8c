"""Effect params (one Struct per source kind, capture included); bounds and defaults live here."""

from __future__ import annotations

from typing import Annotated, Literal, Union

import msgspec

__all__ = [
    "EFFECTS",
    "EFFECT_KINDS",
    "EFFECT_PARAMS",
    "BreathingParams",
    "CaptureParams",
    "ChaseParams",
    "Color",
    "Effect",
    "EffectKind",
    "FireParams",
    "GradientParams",
    "NoiseParams",
    "RainbowParams",
    "StaticParams",
    "TwinkleParams",
]

# "Nothing follows", not $ (Python's re, which msgspec uses, lets $ match before a final newline)
# nor \Z (not a JSON Schema or browser regex): one pattern both dialects read the same way.
Color = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^#[0-9a-fA-F]{6}(?![\s\S])",
        examples=["#ff8800"],
        extra_json_schema={"format": "color"},
    ),
]
ColorList = Annotated[list[Color], msgspec.Meta(min_length=2, max_length=16)]
Speed = Annotated[float, msgspec.Meta(ge=-100.0, le=100.0)]


class _Params(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class StaticParams(_Params):
    color: Color = "#ffffff"


class GradientParams(_Params):
    colors: ColorList = msgspec.field(default_factory=lambda: ["#ff0000", "#0000ff"])
    speed: Speed = 0.0  # strip lengths per second; 0 stands still


class RainbowParams(_Params):
    speed: Speed = 0.2  # hue cycles per second
    cycles: Annotated[float, msgspec.Meta(ge=0.5, le=32.0)] = 1.0  # hue cycles along the strip
    saturation: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 1.0


class BreathingParams(_Params):
    color: Color = "#0080ff"
    period_s: Annotated[float, msgspec.Meta(ge=0.2, le=60.0)] = 4.0


class ChaseParams(_Params):
    color: Color = "#ffffff"
    background: Color = "#000000"
    count: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1  # comets along the strip
    tail: Annotated[float, msgspec.Meta(ge=1.0, le=4096.0)] = 10.0  # LEDs
    speed: Annotated[float, msgspec.Meta(ge=-2000.0, le=2000.0)] = 30.0  # LEDs per second


class FireParams(_Params):
    speed: Annotated[float, msgspec.Meta(ge=0.05, le=10.0)] = 1.0
    intensity: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.8
    scale: Annotated[float, msgspec.Meta(ge=1.0, le=200.0)] = 8.0  # LEDs per flame cell


class TwinkleParams(_Params):
    color: Color = "#ffd080"
    background: Color = "#000000"
    density: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.3
    speed: Annotated[float, msgspec.Meta(ge=0.05, le=10.0)] = 1.0  # twinkles per second


class NoiseParams(_Params):
    colors: ColorList = msgspec.field(default_factory=lambda: ["#000030", "#0060ff", "#00ffa0"])
    scale: Annotated[float, msgspec.Meta(ge=1.0, le=500.0)] = 20.0  # LEDs per feature
    speed: Annotated[float, msgspec.Meta(ge=0.0, le=20.0)] = 0.5  # features per second


EFFECT_PARAMS: dict[str, type[_Params]] = {
    "static": StaticParams,
    "gradient": GradientParams,
    "rainbow": RainbowParams,
    "breathing": BreathingParams,
    "chase": ChaseParams,
    "fire": FireParams,
    "twinkle": TwinkleParams,
    "noise": NoiseParams,
}
EffectKind = Literal[
    "static", "gradient", "rainbow", "breathing", "chase", "fire", "twinkle", "noise"
]
EFFECT_KINDS: tuple[str, ...] = EffectKind.__args__  # type: ignore[attr-defined]
assert set(EFFECT_KINDS) == set(EFFECT_PARAMS)


def _effect(kind: str, params: type[_Params]) -> type[msgspec.Struct]:
    return msgspec.defstruct(
        kind.capitalize() + "Effect",
        [("params", params, msgspec.field(default_factory=params))],
        tag_field="kind",
        tag=kind,
        kw_only=True,
        forbid_unknown_fields=True,
        module=__name__,
    )


# An effect on its own (kind and params), as a capture source's fallback.
EFFECTS = {kind: _effect(kind, params) for kind, params in EFFECT_PARAMS.items()}
Effect = Union[tuple(EFFECTS.values())]  # type: ignore[valid-type]  # noqa: UP007


class CaptureParams(_Params):
    """Frames received over DDP or E1.31; `fallback` says what shows while no stream is live."""

    protocol: Literal["ddp", "e131"] = "ddp"
    # UDP port; 0 means the protocol's configured default (4048 DDP, 5568 E1.31).
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    # E1.31: the first universe; the strip continues into the next ones.
    universe: Annotated[int, msgspec.Meta(ge=1, le=63999)] = 1
    # E1.31 slots used per universe (510 = 170 RGB pixels, the common layout).
    universe_size: Annotated[int, msgspec.Meta(ge=3, le=510, multiple_of=3)] = 510
    # Seconds without a packet before the stream counts as stopped (E1.31's own figure: 2.5).
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 2.5
    # What the strip shows while no stream is live: black, the last frame, or `fallback_effect`.
    fallback: Literal["black", "hold", "effect"] = "black"
    fallback_effect: Effect = msgspec.field(default_factory=EFFECTS["rainbow"])
