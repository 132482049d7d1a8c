"""Targets: a device fed by a source, with frame rate, brightness, gamma and the stop behaviour."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ledgrab.models.devices import ColorOrder, Name
from ledgrab.utils.plain_text import check_name

__all__ = ["OnStop", "TargetConfig"]

OnStop = Literal["black", "restore", "leave"]
EntityId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class TargetConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    device_id: EntityId
    source_id: EntityId
    fps: Annotated[int, msgspec.Meta(ge=1, le=120)] = 60
    brightness: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 1.0
    gamma: Annotated[float, msgspec.Meta(ge=1.0, le=3.0)] = 2.2
    color_order: ColorOrder | None = None  # overrides the device's when set
    auto_start: bool = False
    # black: send one black frame; restore: hand the device back to its own state (WLED leaves
    # realtime mode; others go black); leave: keep showing the last frame.
    on_stop: OnStop = "black"

    def __post_init__(self) -> None:
        check_name("name", self.name)
