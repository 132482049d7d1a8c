"""GET /api/v1/targets/{id}/preview: the running target's latest frame as RGB hex, for the UI."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from ledgrab.api.entity_common import MISSING, require
from ledgrab.core.processing.processor_manager import ProcessorManager
from ledgrab.storage.entities import EntityStore

__all__ = ["PreviewController", "TargetPreview"]


class TargetPreview(msgspec.Struct):
    target_id: str
    running: bool
    frames_sent: int
    # 6 hex digits per LED, RGB as the source rendered it (before brightness, gamma and the
    # device's colour order); empty while the target is stopped. At most 4096 LEDs: 24 KiB.
    pixels: str
    brightness: float = 1.0  # the target's brightness now (a slider being dragged included)


class PreviewController(Controller):
    path = "/targets"
    tags = ["targets"]

    @get(
        "/{target_id:str}/preview",
        summary="The target's latest frame (RGB hex) for a live preview",
        sync_to_thread=False,
        raises=MISSING,
    )
    def preview(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        target_id: FromPath[str],
    ) -> TargetPreview:
        require(entities, "target", target_id)
        runner = engine.runner(target_id)
        if runner is None or not runner.running:
            return TargetPreview(target_id, False, 0, "")
        return TargetPreview(
            target_id,
            True,
            runner.frames_sent,
            runner.last_rendered.hex(),
            runner.config.brightness,
        )
