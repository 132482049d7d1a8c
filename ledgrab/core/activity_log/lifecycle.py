"""Start and stop the activity log with the server: load settings, wire recorder and retention."""

from __future__ import annotations

import msgspec

from ledgrab.config import ActivityConfig
from ledgrab.core.activity_log.auth_failures import AuthFailureLog
from ledgrab.core.activity_log.chain_setup import attach_key
from ledgrab.core.activity_log.checkpoints import Checkpointer
from ledgrab.core.activity_log.clock_steps import ClockSteps, ClockSyncWatch
from ledgrab.core.activity_log.recorder import ActivityRecorder, set_module_recorder
from ledgrab.core.activity_log.retention import RetentionEngine
from ledgrab.core.activity_log.settings import (
    SETTINGS_KEY,
    ActivityLogSettings,
    settings_from_stored,
)
from ledgrab.core.activity_log.signing import DeviceKey
from ledgrab.core.activity_log.sources import BusActivitySource, EntityActivitySource
from ledgrab.core.activity_log.target_trouble import TargetTroubleLog
from ledgrab.core.activity_log.verify_job import VerifyJob
from ledgrab.core.event_bus import EventBus
from ledgrab.storage.activity_log import ActivityLogRepository
from ledgrab.storage.database import Database
from ledgrab.utils.system_clock import SystemClock

__all__ = ["ActivityLog", "save_settings"]


class ActivityLog:
    """The recorder and the retention engine of one running server."""

    def __init__(
        self,
        recorder: ActivityRecorder,
        retention: RetentionEngine,
        bus: EventBus,
        config: ActivityConfig | None = None,
        key: DeviceKey | None = None,
        db: Database | None = None,
        system_clock: SystemClock | None = None,
        clock_steps: ClockSteps | None = None,
        clock_check_s: float = 5.0,
    ) -> None:
        self.recorder = recorder
        self.retention = retention
        self.key = key
        self.verify_job = VerifyJob(db, key, recorder) if db is not None else None
        self.entities = EntityActivitySource(recorder, bus)
        self.bus_source = BusActivitySource(recorder, bus)
        config = config or ActivityConfig()
        self.auth_failures = AuthFailureLog(
            recorder, max_entries_per_window=config.auth_failure_entries_per_minute
        )
        self.target_trouble = TargetTroubleLog(recorder, window_s=config.target_trouble_window_s)
        self.clock_steps = clock_steps or ClockSteps()
        retention.age_us = self.clock_steps.age_us
        self.clock_watch = (
            None
            if system_clock is None
            else ClockSyncWatch(recorder, system_clock, self.clock_steps, clock_check_s)
        )

    @classmethod
    async def start(
        cls,
        db: Database,
        bus: EventBus,
        config: ActivityConfig,
        data_dir: str | None = None,
        *,
        system_clock: SystemClock | None = None,
        clock_check_s: float = 5.0,
    ) -> ActivityLog:
        """Settings stored by an earlier run (`enabled` included) apply before the first entry.
        With a data directory, the device key signs checkpoints and anchors."""
        settings = settings_from_stored(await db.get_setting(SETTINGS_KEY, {}))
        key = await attach_key(db, data_dir) if data_dir is not None else None
        recorder = ActivityRecorder(
            db,
            bus,
            settings,
            max_pending=config.max_pending,
            immediate_gap_s=config.immediate_gap_s,
            retry_min_s=config.retry_min_s,
            retry_max_s=config.retry_max_s,
            checkpointer=Checkpointer(key) if key is not None else None,
            system_clock=system_clock,
        )
        recorder.continue_after(await db.read(ActivityLogRepository.newest_ts))
        db.add_batch_source(recorder)
        retention = RetentionEngine(
            db,
            recorder,
            settings,
            prune_batch=config.prune_batch,
            check_interval_s=config.retention_check_s,
        )
        # Before retention's first run: its age bound reads the corrected times.
        steps = ClockSteps()
        await db.read(steps.load_blocking)
        retention.age_us = steps.age_us
        retention.start()
        set_module_recorder(recorder)
        activity = cls(
            recorder, retention, bus, config, key, db, system_clock, steps, clock_check_s
        )
        if activity.clock_watch is not None:
            activity.clock_watch.start()
        activity.bus_source.start()
        activity.auth_failures.start()
        activity.target_trouble.start()
        return activity

    async def load_clock_steps(self, db: Database) -> None:
        """The synchronisation steps the stored log holds (at start, after a restore)."""
        await db.read(self.clock_steps.load_blocking)

    async def apply(self, db: Database, settings: ActivityLogSettings) -> None:
        """Persist (durably) and apply new settings."""
        await save_settings(db, settings)
        self.recorder.apply_settings(settings)
        self.retention.apply_settings(settings)

    async def stop_retention(self) -> None:
        """Stop the sources (pending auth-failure counts are recorded), then retention; the
        last commit (the database's close) signs the head of the log."""
        if self.recorder.checkpointer is not None:
            self.recorder.checkpointer.seal_next()
        if self.verify_job is not None:
            await self.verify_job.stop()
        if self.clock_watch is not None:
            await self.clock_watch.stop()
        await self.bus_source.stop()
        await self.auth_failures.stop()
        await self.target_trouble.stop()
        self.entities.close()
        await self.retention.stop()

    def detach(self) -> None:
        """After the database closed (which flushed the recorder)."""
        set_module_recorder(None)


async def save_settings(db: Database, settings: ActivityLogSettings) -> None:
    await db.set_setting(SETTINGS_KEY, msgspec.to_builtins(settings))
