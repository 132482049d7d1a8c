"""WindowTimer: the background task that closes coalescing windows no new event closes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ledgrab.utils.tasks import cancel_and_wait

__all__ = ["WindowTimer"]


class WindowTimer:
    """Mixin: start() runs a task that closes due windows every quarter window; stop() ends it
    and flushes what is still open. The class provides _window, _clock, _close_due and flush."""

    _task_name = "activity-windows"
    _task: asyncio.Task | None = None
    _window: float
    _clock: Callable[[], float]

    def _close_due(self, now: float) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick(), name=self._task_name)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self.flush()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._window / 4)
            self._close_due(self._clock())
