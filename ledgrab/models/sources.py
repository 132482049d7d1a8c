"""Sources: a tagged union on `kind`; one Struct per effect (and capture) with its params."""

from __future__ import annotations

from typing import Union

import msgspec

from ledgrab.models.devices import Name
from ledgrab.models.effects import EFFECT_PARAMS, CaptureParams
from ledgrab.utils.plain_text import check_name

__all__ = ["SOURCE_TYPES", "RainbowSource", "SourceConfig", "source_kind"]


class _SourceBase(msgspec.Struct, tag_field="kind", forbid_unknown_fields=True, kw_only=True):
    name: Name

    def __post_init__(self) -> None:
        check_name("name", self.name)

    @property
    def kind(self) -> str:
        return source_kind(self)


def _source(kind: str, params: type[msgspec.Struct]) -> type[_SourceBase]:
    return msgspec.defstruct(
        ("Capture" if kind == "capture" else kind.capitalize()) + "Source",
        [("params", params, msgspec.field(default_factory=params))],
        bases=(_SourceBase,),
        tag=kind,
        kw_only=True,
        module=__name__,
    )


# One source type per effect, and capture.
SOURCE_TYPES: dict[str, type[_SourceBase]] = {
    kind: _source(kind, params)
    for kind, params in {**EFFECT_PARAMS, "capture": CaptureParams}.items()
}
SourceConfig = Union[tuple(SOURCE_TYPES.values())]  # type: ignore[valid-type]  # noqa: UP007
RainbowSource = SOURCE_TYPES["rainbow"]


def source_kind(config: msgspec.Struct) -> str:
    return config.__struct_config__.tag  # type: ignore[return-value]
