"""Quick controls for the Dashboard: a brightness being dragged, blackout, start the auto-start
targets, identify a device. What they change is recorded once, not per slider step."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ledgrab.api.entity_common import MISSING, MISSING_OR_CONFLICT, conflict, require
from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.processing.processor_manager import EngineError, ProcessorManager
from ledgrab.storage.entities import EntityStore
from ledgrab.utils.plain_text import plural

__all__ = ["ControlsController"]

IDENTIFY_S = 2.0


class BrightnessPreview(msgspec.Struct):
    brightness: Annotated[float, msgspec.Meta(ge=0, le=1)]


class PreviewApplied(msgspec.Struct):
    target_id: str
    brightness: float
    applied: bool  # false: the target is not running, nothing changed


class TargetsChanged(msgspec.Struct):
    target_ids: list[str]
    message: str


class Identified(msgspec.Struct):
    device_id: str
    seconds: float
    driven_by: str | None  # the running target that resumes afterwards


class ControlsController(Controller):
    tags = ["controls"]

    @post(
        "/targets/{target_id:str}/brightness-preview",
        summary="Apply a brightness to a running target now, without storing or recording it "
        "(a slider being dragged; PATCH the target when it is let go)",
        status_code=200,
        raises=MISSING,
    )
    async def brightness_preview(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        target_id: FromPath[str],
        data: JSONBody[BrightnessPreview],
    ) -> PreviewApplied:
        require(entities, "target", target_id)
        applied = await engine.preview_brightness(target_id, data.brightness)
        return PreviewApplied(target_id, data.brightness, applied)

    @post(
        "/targets/blackout", summary="Stop every running target, strips left black", status_code=200
    )
    async def blackout(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        activity_recorder: NamedDependency[ActivityRecorder],
    ) -> TargetsChanged:
        stopped = await engine.blackout()
        names = [e.name if (e := entities.get("target", i)) else i for i in stopped]
        message = f"Blackout: stopped {plural(len(stopped), 'target')}"
        if names:
            message += " (" + ", ".join(f'"{n}"' for n in names) + ")"
        activity_recorder.record(
            "system", "targets.blackout", message=message,
            metadata={"stopped": stopped},
        )  # fmt: skip
        return TargetsChanged(stopped, message)

    @post("/targets/start-auto", summary="Start every auto-start target", status_code=200)
    async def start_auto(self, engine: NamedDependency[ProcessorManager]) -> TargetsChanged:
        started = await engine.resume()  # each start is recorded; a failed one as an error
        return TargetsChanged(started, f"Started {plural(len(started), 'auto-start target')}")

    @post(
        "/devices/{device_id:str}/identify",
        summary="Light the device's strip white for two seconds, then restore it (409: it "
        "cannot be opened)",
        status_code=200,
        raises=MISSING_OR_CONFLICT,
    )
    async def identify(
        self,
        entities: NamedDependency[EntityStore],
        engine: NamedDependency[ProcessorManager],
        activity_recorder: NamedDependency[ActivityRecorder],
        device_id: FromPath[str],
    ) -> Identified:
        device = require(entities, "device", device_id)
        try:
            driven_by = await engine.identify(device_id, IDENTIFY_S)
        except EngineError as exc:
            raise conflict(str(exc)) from None
        except Exception as exc:  # the device cannot open: say why
            raise conflict(f'device "{device.name}" could not be lit: {exc}') from None
        activity_recorder.record(
            "device", "device.identified", entity_type="device", entity_id=device_id,
            entity_name=device.name,
            message=f'Device "{device.name}" identified: white for {IDENTIFY_S:g} s',
        )  # fmt: skip
        return Identified(device_id, IDENTIFY_S, driven_by or None)
