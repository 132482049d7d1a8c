"""BackupService: snapshots for download, checked uploads, and the restore that swaps the file."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from pathlib import Path
from typing import Protocol

import msgspec

from ledgrab import __version__
from ledgrab.config import BackupSettings
from ledgrab.core.activity_log.restore_chain import (
    ChainBroken,
    ChainCheck,
    check_restore_chain,
    head_of,
    record_restore_chain,
)
from ledgrab.core.backup.admit import admit_backup
from ledgrab.core.backup.check import BackupInfo, BackupRejected
from ledgrab.core.backup.db_files import install_file, prune_aside, timestamp
from ledgrab.core.backup.journal import note
from ledgrab.core.event_bus import EventBus
from ledgrab.storage.database import Database

__all__ = [
    "BackupBusyError",
    "BackupService",
    "NoSpaceError",
    "RestoreFailedError",
    "RestoreResult",
    "SwapParticipant",
    "UploadTooLargeError",
    "check_chain",
]

log = logging.getLogger("ledgrab.backup")
WORK_DIR = "backup-work"
# Snapshots waiting to be downloaded; more at once is refused (each is a copy of the database).
MAX_PENDING_DOWNLOADS = 2
# A download file older than this was abandoned by its client (its clean-up never ran).
_STALE_DOWNLOAD_S = 600.0
_WRITE_CHUNK = 1 << 20
# Left free on the card beside an upload, for the database's own growth meanwhile.
_SPACE_MARGIN = 16 << 20


class BackupBusyError(RuntimeError):
    """Another backup or restore is running, or too many downloads are pending."""


class UploadTooLargeError(ValueError):
    """The upload exceeds `BackupSettings.max_upload_bytes`."""


class NoSpaceError(OSError):
    """The data directory's file system cannot hold the upload (it stays on the same card)."""


class RestoreFailedError(RuntimeError):
    """The checked backup could not be put in place; the previous database is back in use."""


class SwapParticipant(Protocol):
    """Something that must stop before the file is swapped and resume after (the LED engine).

    after_swap() runs whether or not the swap succeeded, for each before_swap() that returned.
    """

    async def before_swap(self) -> None: ...

    async def after_swap(self) -> None: ...


class RestoreResult(msgspec.Struct, frozen=True):
    restored_from: str
    size_bytes: int
    schema_version: int
    migrated_to: list[int]
    previous_database: str | None


def download_name() -> str:
    return f"ledgrab-{__version__}-{timestamp()}.db"


class BackupService:
    """Owns `<data-dir>/backup-work` (snapshots on their way out, uploads on their way in) and a
    lock so that one backup or restore runs at a time."""

    def __init__(
        self,
        db: Database,
        data_dir: str | os.PathLike[str],
        settings: BackupSettings,
        *,
        participants: list[SwapParticipant] | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.work_dir = Path(data_dir) / WORK_DIR
        self.participants = list(participants or [])
        self.bus = bus
        self.lock = asyncio.Lock()
        self._restoring = False  # one upload at a time: each is a file as big as a database
        # Called after a restore, e.g. to reload caches that mirror the database (API keys).
        self.after_restore: list[Callable[[], Awaitable[None]]] = []

    def prepare_blocking(self) -> None:
        """Empty the work directory: whatever is there was left by a crash."""
        shutil.rmtree(self.work_dir, ignore_errors=True)
        self.work_dir.mkdir(parents=True, exist_ok=True)

    # -- backup ------------------------------------------------------------------------------

    def _claim_download_slot(self) -> None:
        now = time.time()
        pending = []
        for path in self.work_dir.glob("download-*"):
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime > _STALE_DOWNLOAD_S:
                    path.unlink()
                else:
                    pending.append(path)
        if len(pending) >= MAX_PENDING_DOWNLOADS:
            raise BackupBusyError(
                f"{len(pending)} backups are already being downloaded; try again when they finish"
            )

    async def snapshot_for_download(self) -> tuple[Path, str]:
        """A consistent copy in the work directory and its download name; the caller deletes it
        once sent. Waits for a running backup or restore to finish first."""
        async with self.lock:
            await asyncio.to_thread(self._claim_download_slot)
            name = download_name()
            path = self.work_dir / f"download-{name}"
            # An empty write commits whatever the activity log holds, so the backup has it all.
            await self.db.write(_nothing)
            await self.db.backup_to(path)
            size = (await asyncio.to_thread(path.stat)).st_size
        note(
            "backup.created",
            f"backup {name} made for download ({size} bytes)",
            metadata={"file": name, "size_bytes": size},
        )
        return path, name

    # -- restore -----------------------------------------------------------------------------

    async def restore_upload(
        self,
        chunks: AsyncIterable[bytes],
        announced: int | None,
        source_name: str,
        *,
        origin: str | None = None,
        force: bool = False,
    ) -> RestoreResult:
        """Receive an upload and restore it; one at a time (a second gets BackupBusyError).

        Raises UploadTooLargeError or NoSpaceError (nothing kept) and whatever restore() raises.
        """
        if self._restoring:
            raise BackupBusyError("another restore is already running; try again when it is done")
        self._restoring = True
        try:
            staged = await self._receive(chunks, announced)
            return await self.restore(staged, source_name, origin=origin, force=force)
        finally:
            self._restoring = False

    async def _receive(self, chunks: AsyncIterable[bytes], announced: int | None) -> Path:
        limit = self.settings.max_upload_bytes
        free = (await asyncio.to_thread(shutil.disk_usage, self.work_dir)).free
        # The upload and the fresh file it is rebuilt into are on the card at the same time.
        room = (free - _SPACE_MARGIN) // 2
        if announced is not None and announced > room:
            raise NoSpaceError(
                f"the data directory has {max(free, 0)} bytes free; the upload needs twice "
                f"{announced} (it is rebuilt into a fresh file) plus {_SPACE_MARGIN} to spare"
            )
        path = self.work_dir / f"upload-{timestamp()}-{os.urandom(4).hex()}.db"
        handle = await asyncio.to_thread(path.open, "wb")
        total, buffer = 0, bytearray()
        try:
            async for chunk in chunks:
                total += len(chunk)
                if total > limit:
                    raise UploadTooLargeError(
                        f"the upload is larger than the limit of {limit} bytes "
                        "([backup] max_upload_bytes)"
                    )
                if total > room:
                    raise NoSpaceError(f"the data directory ran out of room at {total} bytes")
                buffer += chunk
                if len(buffer) >= _WRITE_CHUNK:
                    await asyncio.to_thread(handle.write, bytes(buffer))
                    buffer.clear()
            await asyncio.to_thread(handle.write, bytes(buffer))
        except BaseException as exc:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(path.unlink, missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise NoSpaceError(f"the data directory ran out of room at {total} bytes") from exc
            raise
        await asyncio.to_thread(handle.close)
        return path

    async def check_upload(
        self, staged: Path, force: bool = False
    ) -> tuple[BackupInfo, list[int], Path, ChainCheck]:
        """Admit a staged upload (admit_backup: checked, rebuilt into a fresh file, migrated)
        and verify the upload's activity chain; return its info, the versions applied,
        the rebuilt file and the chain check. The upload itself is deleted either way; a
        rejection re-raises BackupRejected."""
        rebuilt = staged.with_name(f"rebuilt-{staged.name}")
        try:
            admitted = await asyncio.to_thread(admit_backup, staged, rebuilt)
            # The upload as it came (its schema is proven LedGrab's), before migrations chain
            # and anchor a log that predates the chain.
            chain = await asyncio.to_thread(check_chain, staged, self.db.path, force)
        except BaseException:
            await asyncio.to_thread(_remove_staged, rebuilt)
            raise
        finally:
            await asyncio.to_thread(_remove_staged, staged)
        return admitted.info, admitted.migrated_to, rebuilt, chain

    async def restore(
        self, staged: Path, source_name: str, *, origin: str | None = None, force: bool = False
    ) -> RestoreResult:
        """Check `staged`, then put it in place of the live database (see DESIGN: restore).

        `origin` (the caller's token) is echoed in the database_restored event. Waits for a
        running backup to finish. Raises BackupRejected (nothing changed) or
        RestoreFailedError (the previous database is back in use).
        """
        async with self.lock:
            info, applied, staged, chain = await self.check_upload(staged, force)
            stopped: list[SwapParticipant] = []
            moved: dict[str, Path | None] = {}

            def replace(live: Path) -> Callable[[], None]:
                replaced = head_of(live)  # the activity chain's head, before it is replaced
                moved["aside"], undo = install_file(staged, live, "pre-restore")
                # On the writer, before the new file opens: these become its first entries.
                record_restore_chain(chain, source_name, replaced)
                return undo

            try:
                for participant in self.participants:
                    await participant.before_swap()
                    stopped.append(participant)
                await self.db.swap_file(replace)
            except Exception as exc:
                await asyncio.to_thread(_remove_staged, staged)
                note(
                    "restore.failed",
                    f"restoring {source_name} failed, the previous database is kept: {exc}",
                    severity="error",
                )
                raise RestoreFailedError(
                    f"the backup passed its checks but could not be opened ({exc}); "
                    "the previous database is still in use"
                ) from exc
            finally:
                await self._after_swap(stopped)
            aside = await asyncio.to_thread(self._prune_pre_restore, moved.get("aside"))
        note(
            "restore.completed",
            f"restored backup {source_name} (schema version {info.schema_version}, "
            f"{info.size_bytes} bytes)"
            + (f"; the previous database is kept as {aside.name}" if aside else ""),
            metadata={
                "file": source_name,
                "size_bytes": info.size_bytes,
                "schema_version": info.schema_version,
                "previous_database": aside.name if aside else None,
            },
        )
        # Rare and worth keeping through a power cut: commit the entry now, not with its batch.
        await self.db.write(_nothing)
        previous = str(aside) if aside else None
        if self.bus is not None:  # browsers redraw from the new file
            self.bus.publish("database_restored", {"file": source_name, "origin": origin})
        return RestoreResult(source_name, info.size_bytes, info.schema_version, applied, previous)

    def _prune_pre_restore(self, aside: Path | None) -> Path | None:
        """Keep the newest `keep_pre_restore` files set aside; the one just made, if still there."""
        prune_aside(self.db.path, "pre-restore", self.settings.keep_pre_restore)
        return aside if aside is not None and aside.exists() else None

    async def _after_swap(self, stopped: list[SwapParticipant]) -> None:
        for hook in self.after_restore:
            try:
                await hook()
            except Exception:
                log.exception("a post-restore step failed")
        for participant in reversed(stopped):
            try:
                await participant.after_swap()
            except Exception:
                log.exception("resuming %r after the restore failed", participant)


def _nothing(_conn: object) -> None:
    return None


def check_chain(staged: Path, live: Path, force: bool) -> ChainCheck:
    """The upload's activity chain verified, or BackupRejected("chain_broken") unless `force`."""
    try:
        return check_restore_chain(staged, live, force=force)
    except ChainBroken as exc:
        raise BackupRejected("chain_broken", str(exc)) from None


def _remove_staged(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
