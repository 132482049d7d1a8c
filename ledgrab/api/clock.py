"""/api/v1/system/clock: set the board's clock by hand (from the browser's time) when no time
server has synchronised it. The server holds no CAP_SYS_TIME: a privileged helper does the
setting (utils/clock_request.py); the change is recorded with who asked for it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import JSONBody

from ledgrab.api.entity_common import ConflictException
from ledgrab.api.validation import FieldError, error_answers, invalid_fields
from ledgrab.config import Settings
from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.storage.activity_log import from_us, to_us
from ledgrab.utils.clock_request import EARLIEST_US, LATEST_US, submit_request

__all__ = ["ClockController", "ClockSet", "ClockSetAnswer"]


class ClockSet(msgspec.Struct, forbid_unknown_fields=True):
    time: Annotated[
        str,
        msgspec.Meta(
            max_length=40,
            description="the time to set, ISO 8601 with a UTC offset (the browser's clock)",
        ),
    ]


class ClockSetAnswer(msgspec.Struct):
    old: datetime  # what the clock said just before
    new: datetime  # what it said just after
    step_s: float


def _target_us(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in text:
        raise invalid_fields(
            "clock", [FieldError("time", "must be a date and time with a UTC offset")]
        )
    target = to_us(moment)
    if not EARLIEST_US <= target < LATEST_US:
        raise invalid_fields(
            "clock", [FieldError("time", "must lie between 2026-01-01 and 2100-01-01")]
        )
    return target


class ClockController(Controller):
    path = "/system/clock"
    tags = ["system"]

    @post(
        "/",
        summary="Set the board's clock by hand (only while no time server has synchronised it)",
        status_code=200,
        responses=error_answers(
            e409="A time server has synchronised the clock, no helper is set up, or it refused",
            e503="The privileged clock helper did not answer",
        ),
    )
    async def set_clock(
        self,
        state: State,
        settings: NamedDependency[Settings],
        activity_recorder: NamedDependency[ActivityRecorder],
        data: JSONBody[ClockSet],
    ) -> ClockSetAnswer:
        target_us = _target_us(data.time)
        if state.system_clock.synchronised():
            raise ConflictException(
                "a time server has synchronised the clock; it is not set by hand"
            )
        config = settings.clock
        if config.request_dir is None:
            raise ConflictException(
                "the clock cannot be set by hand here: no clock helper is set up "
                "([clock] request_dir, set by ledgrab.service)"
            )
        try:
            result = await asyncio.to_thread(
                submit_request, Path(config.request_dir), target_us, config.set_timeout_s
            )
        except OSError as exc:
            raise HTTPException(
                status_code=503, detail=f"the clock request could not be written: {exc}"
            ) from None
        if result is None:
            raise HTTPException(
                status_code=503,
                detail="the clock helper did not answer (is ledgrab-set-clock.path enabled?)",
            )
        if not result.ok:
            raise ConflictException(f"the clock was not set: {result.reason}")
        old, new = from_us(result.old_us), from_us(result.new_us)
        step_s = round((result.new_us - result.old_us) / 1_000_000, 3)
        activity_recorder.record(
            "system",
            "system.clock_set",
            severity="warning",  # a hand-set time is a claim, not a synchronisation
            message=f"Clock set by hand to {new.isoformat()} (it said {old.isoformat()})",
            metadata={"old": old.isoformat(), "new": new.isoformat(), "step_s": step_s},
        )
        return ClockSetAnswer(old=old, new=new, step_s=step_s)
