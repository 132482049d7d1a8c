"""Sources: a tagged union on `kind`; one Struct per effect (and capture) with its params."""

from __future__ import annotations

import msgspec

from ledgrab.models.devices import Name
from ledgrab.models.effects import (
    BreathingParams,
    CaptureParams,
    ChaseParams,
    FireParams,
    GradientParams,
    NoiseParams,
    RainbowParams,
    StaticParams,
    TwinkleParams,
)
from ledgrab.utils.plain_text import check_name

__all__ = ["SOURCE_TYPES", "SourceConfig", "source_kind"]


class _SourceBase(msgspec.Struct, tag_field="kind", forbid_unknown_fields=True, kw_only=True):
    name: Name

    def __post_init__(self) -> None:
        check_name("name", self.name)

    @property
    def kind(self) -> str:
        return source_kind(self)


class StaticSource(_SourceBase, tag="static", kw_only=True):
    params: StaticParams = msgspec.field(default_factory=StaticParams)


class GradientSource(_SourceBase, tag="gradient", kw_only=True):
    params: GradientParams = msgspec.field(default_factory=GradientParams)


class RainbowSource(_SourceBase, tag="rainbow", kw_only=True):
    params: RainbowParams = msgspec.field(default_factory=RainbowParams)


class BreathingSource(_SourceBase, tag="breathing", kw_only=True):
    params: BreathingParams = msgspec.field(default_factory=BreathingParams)


class ChaseSource(_SourceBase, tag="chase", kw_only=True):
    params: ChaseParams = msgspec.field(default_factory=ChaseParams)


class FireSource(_SourceBase, tag="fire", kw_only=True):
    params: FireParams = msgspec.field(default_factory=FireParams)


class TwinkleSource(_SourceBase, tag="twinkle", kw_only=True):
    params: TwinkleParams = msgspec.field(default_factory=TwinkleParams)


class NoiseSource(_SourceBase, tag="noise", kw_only=True):
    params: NoiseParams = msgspec.field(default_factory=NoiseParams)


class CaptureSourceConfig(_SourceBase, tag="capture", kw_only=True):
    params: CaptureParams = msgspec.field(default_factory=CaptureParams)


SourceConfig = (
    StaticSource
    | GradientSource
    | RainbowSource
    | BreathingSource
    | ChaseSource
    | FireSource
    | TwinkleSource
    | NoiseSource
    | CaptureSourceConfig
)
SOURCE_TYPES: dict[str, type[_SourceBase]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in SourceConfig.__args__  # type: ignore[attr-defined]
}


def source_kind(config: msgspec.Struct) -> str:
    return config.__struct_config__.tag  # type: ignore[return-value]
