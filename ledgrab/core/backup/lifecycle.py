"""The lifespan's backup steps: start() after the database and API keys, stop() before close."""

from __future__ import annotations

import asyncio
from pathlib import Path

from litestar.datastructures import State

from ledgrab.core.activity_log.settings import SETTINGS_KEY as ACTIVITY_SETTINGS_KEY
from ledgrab.core.activity_log.settings import settings_from_stored
from ledgrab.core.backup.auto_backup import AutoBackup
from ledgrab.core.backup.recovery import StartupRecovery, record_recovery
from ledgrab.core.backup.service import BackupService

__all__ = ["start", "stop"]


async def start(state: State, recovery: StartupRecovery | None) -> None:
    """Put `backup` and `auto_backup` in app.state, apply the stored schedule, and record a
    startup recovery (needs the activity recorder running)."""
    settings = state.settings
    service = BackupService(state.db, Path(settings.data_dir), settings.backup)
    await asyncio.to_thread(service.prepare_blocking)
    auto = AutoBackup(service)
    await auto.load()
    # A restore replaces what these mirror: the keys and the backup schedule of the new file.
    service.after_restore.append(state.api_keys.load)
    service.after_restore.append(auto.load)
    if (activity := state.get("activity")) is not None:

        async def reload_activity_settings() -> None:
            stored = await state.db.get_setting(ACTIVITY_SETTINGS_KEY, {})
            settings = settings_from_stored(stored)
            activity.recorder.apply_settings(settings)
            activity.retention.apply_settings(settings)

        service.after_restore.append(reload_activity_settings)
    state.backup, state.auto_backup = service, auto
    state.health_providers["backup"] = auto.health
    if recovery is not None:
        record_recovery(recovery)
    auto.start()


async def stop(state: State) -> None:
    auto: AutoBackup | None = state.get("auto_backup")
    if auto is not None:
        await auto.stop()
