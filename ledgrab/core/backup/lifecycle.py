"""The lifespan's backup steps: start() after the database and API keys, stop() before close."""

from __future__ import annotations

import asyncio
from pathlib import Path

from litestar.datastructures import State

from ledgrab.core.activity_log.settings import SETTINGS_KEY as ACTIVITY_SETTINGS_KEY
from ledgrab.core.activity_log.settings import settings_from_stored
from ledgrab.core.backup.auto_backup import AutoBackup
from ledgrab.core.backup.service import BackupService
from ledgrab.core.processing.processor_manager import ProcessorManager
from ledgrab.storage.entities import EntityStore

__all__ = ["EngineDuringRestore", "start", "stop"]


class EngineDuringRestore:
    """Targets stop and entity changes wait (the entity lock is held) while the file is swapped;
    then the entities are reread from the new file and its auto_start targets start."""

    def __init__(self, engine: ProcessorManager, entities: EntityStore) -> None:
        self.engine, self.entities = engine, entities

    async def before_swap(self) -> None:
        await self.entities.lock.acquire()
        try:
            await self.engine.stop_all("restore")
        except BaseException:
            self.entities.lock.release()
            raise

    async def after_swap(self) -> None:
        try:
            await self.entities.load()
        finally:
            self.entities.lock.release()
        await self.engine.resume()


async def start(state: State) -> None:
    """Put `backup` and `auto_backup` in app.state and apply the stored schedule."""
    settings = state.settings
    participants = []
    if state.get("engine") is not None:
        participants.append(EngineDuringRestore(state.engine, state.entities))
    service = BackupService(
        state.db,
        Path(settings.data_dir),
        settings.backup,
        participants=participants,
        bus=state.bus,
    )
    await asyncio.to_thread(service.prepare_blocking)
    auto = AutoBackup(service)
    await auto.load()
    # A restore replaces what these mirror: the keys and the backup schedule of the new file.
    service.after_restore.append(state.api_keys.load)
    service.after_restore.append(auto.load)
    if (notice := state.get("recovery_notice")) is not None:
        service.after_restore.append(notice.load)
    if (activity := state.get("activity")) is not None:

        async def reload_activity_settings() -> None:
            stored = await state.db.get_setting(ACTIVITY_SETTINGS_KEY, {})
            settings = settings_from_stored(stored)
            activity.recorder.apply_settings(settings)
            activity.retention.apply_settings(settings)
            await activity.load_clock_steps(state.db)  # the restored log's own steps

        service.after_restore.append(reload_activity_settings)
    state.backup, state.auto_backup = service, auto
    state.health_providers["backup"] = auto.health
    auto.start()


async def stop(state: State) -> None:
    auto: AutoBackup | None = state.get("auto_backup")
    if auto is not None:
        await auto.stop()
