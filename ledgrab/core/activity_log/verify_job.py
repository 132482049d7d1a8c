"""VerifyJob: `GET /activity/verify` runs verify_database in a worker thread, at most half of one
core, with progress; a failure is recorded as a `critical` entry."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import msgspec

from ledgrab.core.activity_log.context import SYSTEM
from ledgrab.core.activity_log.verify import VerifyResult, verify_database

__all__ = ["VerifyJob", "VerifyStatus"]

# Rows per chunk: a chunk holds the GIL ~1 ms (hashing and reading), then the job sleeps as long.
CHUNK = 250


class VerifyStatus(msgspec.Struct):
    state: str  # "idle" | "running" | "done"
    checked: int
    total: int
    started_at: float | None
    finished_at: float | None
    result: VerifyResult | None
    summary: str | None


class _Stopped(Exception):
    pass


class VerifyJob:
    """One verification at a time; a request while one runs joins it."""

    def __init__(self, db: Any, key: Any, recorder: Any, *, duty: float = 0.5) -> None:
        self._db, self._key, self._recorder = db, key, recorder
        self._duty = duty
        self._task: asyncio.Task | None = None
        self._stop = threading.Event()
        self.checked = self.total = 0
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.result: VerifyResult | None = None

    def status(self) -> VerifyStatus:
        running = self._task is not None and not self._task.done()
        state = "running" if running else "done" if self.result is not None else "idle"
        summary = self.result.summary() if self.result is not None and not running else None
        return VerifyStatus(
            state,
            self.checked,
            self.total,
            self.started_at,
            self.finished_at,
            None if running else self.result,
            summary,
        )

    def start(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self._stop.clear()
        self.checked = self.total = 0
        self.started_at, self.finished_at = time.time(), None
        self._task = asyncio.get_running_loop().create_task(self._run(), name="activity-verify")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        # Commit what waits first, so the check covers every entry recorded before it began.
        await self._recorder.commit_now()
        extra = [self._key.public] if self._key is not None else []
        try:
            result = await asyncio.to_thread(self._verify, extra)
        except _Stopped:
            return
        self.result, self.finished_at = result, time.time()
        if result.failure is not None:
            self._recorder.record(
                "system",
                "activity.verify_failed",
                severity="critical",
                actor=SYSTEM,
                message=f"The activity log did not verify: {result.summary()}",
                metadata={"seq": result.failure.seq, "reason": result.failure.reason},
                _bypass_enabled=True,
            )

    def _verify(self, extra: list) -> VerifyResult:
        last = [time.monotonic()]

        def progress(done: int, total: int) -> None:
            self.checked, self.total = done, total

        def pause() -> None:
            if self._stop.is_set():
                raise _Stopped
            worked = time.monotonic() - last[0]
            time.sleep(worked * (1 - self._duty) / self._duty)
            last[0] = time.monotonic()

        return verify_database(
            self._db.path, extra_keys=extra, progress=progress, pause=pause, chunk=CHUNK
        )
