"""A running target's failures and recoveries, coalesced: `target.error` when it first fails,
`target.recovered` when it sends frames again, and at most one more entry per target per window.

The first transition of a quiet target is recorded at once (a strip just went dark). Later
transitions in the same window are only counted; when the window closes, one entry says how
many there were and where the target stands now, and opens the next window. So a device that
flaps every second costs one entry per window, not two a second, and cannot flood the log or
wear the card; a target that stays failed costs one entry in all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ledgrab.core.activity_log.context import SYSTEM
from ledgrab.core.activity_log.window_timer import WindowTimer
from ledgrab.utils.plain_text import plural

__all__ = ["TargetTroubleLog"]


class _Window:
    __slots__ = ("failing", "failures", "last_error", "name", "opened", "recoveries")

    def __init__(self, opened: float, name: str | None, failing: bool, error: str | None) -> None:
        self.opened = opened
        self.name = name
        self.failing = failing  # where the target stands after the last transition
        self.last_error = error
        self.failures = 0  # transitions after the one recorded when the window opened
        self.recoveries = 0


class TargetTroubleLog(WindowTimer):
    _task_name = "target-trouble"

    def __init__(
        self,
        recorder: Any,
        *,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._recorder = recorder
        self._window = window_s
        self._clock = clock
        self._open: dict[str, _Window] = {}  # bounded by the number of targets
        self._failing: set[str] = set()  # targets whose last recorded transition was a failure
        self._task: asyncio.Task | None = None

    def failed(self, target_id: str, name: str | None, reason: str) -> None:
        """A running target stopped sending frames (called on the event loop)."""
        now = self._clock()
        self._close_due(now)
        window = self._open.get(target_id)
        if window is None:
            self._open[target_id] = _Window(now, name, True, reason)
            self._failing.add(target_id)
            self._record_error(target_id, name, reason, extra=None)
            return
        window.failures += 1
        window.failing, window.last_error, window.name = True, reason, name or window.name

    def recovered(self, target_id: str, name: str | None) -> None:
        """A target that had failed sends frames again."""
        now = self._clock()
        self._close_due(now)
        window = self._open.get(target_id)
        if window is None:
            if target_id in self._failing:
                self._open[target_id] = _Window(now, name, False, None)
                self._failing.discard(target_id)
                self._record_recovered(target_id, name, extra=None)
            return
        window.recoveries += 1
        window.failing, window.name = False, name or window.name

    def forget(self, target_id: str) -> None:
        """The target stopped: what is counted for it is recorded now, then nothing is kept."""
        window = self._open.pop(target_id, None)
        if window is not None:
            self._summarise(target_id, window)
        self._failing.discard(target_id)

    def flush(self) -> None:
        """Close every open window now (shutdown)."""
        self._close_due(float("inf"))

    def _close_due(self, now: float) -> None:
        for target_id, window in list(self._open.items()):
            if now - window.opened < self._window:
                continue
            del self._open[target_id]
            if self._summarise(target_id, window) and now != float("inf"):
                # The summary is this target's one entry of the next window.
                self._open[target_id] = _Window(now, window.name, window.failing, None)

    def _summarise(self, target_id: str, window: _Window) -> bool:
        if not (window.failures or window.recoveries):
            return False
        seconds = int(self._window)
        counted = f"{plural(window.failures, 'more failure')} in {seconds} s"
        extra = {"failures": window.failures, "recoveries": window.recoveries, "window_s": seconds}
        if window.failing:
            self._failing.add(target_id)
            reason = window.last_error or "?"
            self._record_error(target_id, window.name, reason, extra=(counted, extra))
        else:
            self._failing.discard(target_id)
            self._record_recovered(target_id, window.name, extra=(counted, extra))
        return True

    def _record_error(
        self, target_id: str, name: str | None, reason: str, *, extra: tuple[str, dict] | None
    ) -> None:
        label = f'Target "{name}"' if name else f"Target {target_id}"
        message = f"{label} failed: {reason}"
        metadata: dict[str, Any] = {"error": reason}
        if extra is not None:
            message = f"{label} is failing ({extra[0]}): {reason}"
            metadata.update(extra[1])
        self._recorder.record(
            "system", "target.error", severity="error", actor=SYSTEM, entity_type="target",
            entity_id=target_id, entity_name=name, message=message, metadata=metadata,
        )  # fmt: skip

    def _record_recovered(
        self, target_id: str, name: str | None, *, extra: tuple[str, dict] | None
    ) -> None:
        label = f'Target "{name}"' if name else f"Target {target_id}"
        message = f"{label} is sending frames again"
        metadata: dict[str, Any] = {}
        if extra is not None:
            message += f" (after {extra[0]})"
            metadata.update(extra[1])
        self._recorder.record(
            "system", "target.recovered", actor=SYSTEM, entity_type="target",
            entity_id=target_id, entity_name=name, message=message, metadata=metadata,
        )  # fmt: skip
