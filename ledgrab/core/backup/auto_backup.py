"""AutoBackup: periodic backups into a directory, newest N kept under a byte bound; never fatal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import msgspec

from ledgrab.core.backup.check import BackupRejected, check_backup_file
from ledgrab.core.backup.db_files import timestamp
from ledgrab.core.backup.journal import note
from ledgrab.core.backup.service import BackupService
from ledgrab.models.health import ComponentHealth
from ledgrab.utils.tasks import cancel_and_wait

__all__ = [
    "DESTINATION_HINT",
    "SETTINGS_KEY",
    "AutoBackup",
    "AutoBackupConfig",
    "AutoBackupError",
    "AutoBackupStatus",
    "BackupFile",
    "validate_config",
]

log = logging.getLogger("ledgrab.backup")
SETTINGS_KEY = "backup.auto"
PREFIX = "ledgrab-auto-"
DESTINATION_HINT = (
    "Absolute path of an existing directory. A USB stick (e.g. /media/usb/ledgrab-backups) is a "
    "better place than the SD card: a backup on the card that fails goes down with it."
)


class AutoBackupError(RuntimeError):
    """One auto-backup run failed (destination missing, read-only, full, or too small)."""


class AutoBackupConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = False
    interval_s: Annotated[
        int, msgspec.Meta(ge=60, le=30 * 86400, description="seconds between backups")
    ] = 86400
    destination: Annotated[str, msgspec.Meta(max_length=1024, description=DESTINATION_HINT)] = ""
    keep: Annotated[int, msgspec.Meta(ge=1, le=1000, description="newest backups kept")] = 7
    max_bytes: Annotated[
        int, msgspec.Meta(ge=1 << 20, le=1 << 40, description="total size of the kept backups")
    ] = 1 << 30


class BackupFile(msgspec.Struct, frozen=True):
    name: str
    size_bytes: int
    created: str


class AutoBackupStatus(msgspec.Struct):
    config: AutoBackupConfig
    state: str  # "off", "ok" or "failing"
    last_success: str | None
    last_error: str | None
    next_due: str | None
    backups: list[BackupFile]
    destination_hint: str = DESTINATION_HINT


def validate_config(config: AutoBackupConfig) -> str | None:
    """What is wrong with an enabled config (a message for a person), or None. Blocking."""
    if not config.enabled:
        return None
    if not config.destination:
        return "destination: a directory is needed to enable auto-backup"
    dest = Path(config.destination)
    if not dest.is_absolute():
        return f"destination: {config.destination!r} must be an absolute path"
    if not dest.is_dir():
        return f"destination: {dest} does not exist or is not a directory (is the stick mounted?)"
    return None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _listing(dest: Path) -> list[tuple[Path, int, float]]:
    """Our backups in `dest`, oldest first (names sort by time)."""
    found = []
    for path in dest.glob(f"{PREFIX}*.db"):
        with contextlib.suppress(FileNotFoundError):
            st = path.stat()
            found.append((path, st.st_size, st.st_mtime))
    return sorted(found, key=lambda f: f[0].name)


class AutoBackup:
    """Owns the schedule; its settings live in the database under `backup.auto`."""

    def __init__(self, service: BackupService) -> None:
        self.service = service
        self.config = AutoBackupConfig()
        self.last_success: float | None = None
        self.last_attempt: float | None = None
        self.last_error: str | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- settings ----------------------------------------------------------------------------

    async def load(self) -> None:
        """Apply the settings stored in the database (at startup and after a restore)."""
        raw = await self.service.db.get_setting(SETTINGS_KEY)
        try:
            self.config = msgspec.convert(raw or {}, AutoBackupConfig)
        except msgspec.ValidationError as exc:
            log.warning("stored auto-backup settings are invalid (%s); using defaults", exc)
            self.config = AutoBackupConfig()
        self.last_error = None
        self._changed.set()

    async def configure(self, config: AutoBackupConfig) -> None:
        """Validate, persist and apply; raises ValueError with a message naming the field."""
        problem = await asyncio.to_thread(validate_config, config)
        if problem:
            raise ValueError(problem)
        await self.service.db.set_setting(SETTINGS_KEY, msgspec.to_builtins(config))
        self.config = config
        self.last_error = None
        self._changed.set()

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="auto-backup")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def _next_due_blocking(self, config: AutoBackupConfig) -> float:
        newest = None
        with contextlib.suppress(OSError):
            listing = _listing(Path(config.destination))
            newest = max((m for _p, _s, m in listing), default=None)
        last = max(t for t in (newest, self.last_attempt, 0.0) if t is not None)
        return last + config.interval_s if last else time.time()

    async def next_due(self) -> float | None:
        if not self.config.enabled:
            return None
        return await asyncio.to_thread(self._next_due_blocking, self.config)

    async def _loop(self) -> None:
        while True:
            self._changed.clear()
            due = await self.next_due()
            timeout = None if due is None else max(0.0, due - time.time())
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
                continue  # settings changed: compute the schedule again
            except TimeoutError:
                pass
            with contextlib.suppress(AutoBackupError):
                await self.run_once()

    async def run_once(self) -> Path:
        """Make one backup now and prune; a failure is recorded, kept for /health and raised."""
        config = self.config
        self.last_attempt = time.time()
        try:
            async with self.service.lock:
                path, size, pruned = await asyncio.to_thread(self._run_blocking, config)
        except Exception as exc:
            self.last_error = f"auto-backup to {config.destination or '(none)'} failed: {exc}"
            note(
                "backup.auto_failed",
                self.last_error,
                severity="warning",
                metadata={"destination": config.destination},
            )
            raise AutoBackupError(self.last_error) from exc
        self.last_error = None
        self.last_success = time.time()
        note(
            "backup.auto_created",
            f"auto-backup {path.name} written to {path.parent} ({size} bytes)",
            metadata={"file": path.name, "destination": str(path.parent), "size_bytes": size},
        )
        if pruned:
            note(
                "backup.auto_pruned",
                f"removed {len(pruned)} old auto-backup(s): {', '.join(pruned)}",
                metadata={"files": pruned, "destination": str(path.parent)},
            )
        return path

    def _run_blocking(self, config: AutoBackupConfig) -> tuple[Path, int, list[str]]:
        dest = Path(config.destination)
        if not config.destination or not dest.is_absolute():
            raise AutoBackupError("no absolute destination directory is set")
        if not dest.is_dir():
            raise AutoBackupError(f"{dest} does not exist or is not a directory (not mounted?)")
        for stale in dest.glob(f"{PREFIX}*.partial"):
            stale.unlink(missing_ok=True)
        db_path = self.service.db.path
        wal = Path(f"{db_path}-wal")
        expected = db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        if expected > config.max_bytes:
            raise AutoBackupError(
                f"the database ({expected} bytes) is larger than max_bytes ({config.max_bytes})"
            )
        pruned: list[str] = []
        listing = _listing(dest)
        # Room first, so the byte bound holds even while the new file is being written.
        while listing and sum(s for _p, s, _m in listing) + expected > config.max_bytes:
            pruned.append(self._delete(listing.pop(0)[0]))
        # Milliseconds: a "run now" right after a scheduled run must not replace it.
        target = dest / f"{PREFIX}{timestamp(ms=True)}.db"
        try:
            self.service.db.backup_to_blocking(target)
        except BaseException:
            Path(f"{target}.partial").unlink(missing_ok=True)
            raise
        # The same check a restore makes: a copy that could not be restored is no backup.
        try:
            check_backup_file(target)
        except BackupRejected as exc:
            self._delete(target)
            raise AutoBackupError(
                f"the new backup failed its check and was removed: {exc}"
            ) from None
        listing = _listing(dest)
        while len(listing) > config.keep or (
            len(listing) > 1 and sum(s for _p, s, _m in listing) > config.max_bytes
        ):
            pruned.append(self._delete(listing.pop(0)[0]))
        if listing and listing[-1][1] > config.max_bytes:
            self._delete(target)
            raise AutoBackupError(
                f"the new backup ({listing[-1][1]} bytes) exceeds max_bytes ({config.max_bytes})"
            )
        return target, listing[-1][1], pruned

    @staticmethod
    def _delete(path: Path) -> str:
        path.unlink(missing_ok=True)
        return path.name

    # -- reporting ---------------------------------------------------------------------------

    def health(self) -> ComponentHealth:
        if not self.config.enabled and not self.last_error:
            return ComponentHealth("ok", details={"auto_backup": "off"})
        details = {
            "auto_backup": "failing" if self.last_error else "ok",
            "destination": self.config.destination,
            "last_success": _iso(self.last_success) if self.last_success else None,
        }
        if self.last_error:
            return ComponentHealth("degraded", self.last_error, details)
        return ComponentHealth("ok", details=details)

    async def status(self) -> AutoBackupStatus:
        config = self.config
        backups: list[BackupFile] = []
        if config.destination:
            with contextlib.suppress(OSError):
                listing = await asyncio.to_thread(_listing, Path(config.destination))
                backups = [BackupFile(p.name, s, _iso(m)) for p, s, m in reversed(listing)]
        due = await self.next_due()
        return AutoBackupStatus(
            config=config,
            state="off" if not config.enabled else ("failing" if self.last_error else "ok"),
            last_success=_iso(self.last_success) if self.last_success else None,
            last_error=self.last_error,
            next_due=_iso(due) if due else None,
            backups=backups,
        )
