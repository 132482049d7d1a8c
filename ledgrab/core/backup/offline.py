"""`ledgrab backup` / `ledgrab restore` without the server: what they do and why each is safe."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec

from ledgrab.config import Settings
from ledgrab.core.activity_log.offline_record import record_and_close
from ledgrab.core.backup.admit import admit_backup
from ledgrab.core.backup.check import BackupInfo, check_backup_file
from ledgrab.core.backup.db_files import DataDirLock, install_file, prune_aside
from ledgrab.core.backup.service import WORK_DIR, check_chain, download_name
from ledgrab.storage.database import Database

__all__ = ["OfflineRestore", "backup_offline", "restore_offline"]


class OfflineRestore(msgspec.Struct, frozen=True):
    info: BackupInfo
    migrated_to: list[int]
    previous_database: str | None


def backup_offline(db_path: Path, dest: Path, *, force: bool = False) -> tuple[Path, BackupInfo]:
    """Snapshot `db_path` into `dest` (a file, or a directory to put a named file in).

    Safe beside a running server: the backup API copies inside one read transaction, which WAL
    lets run next to the server's writer; nothing is written to the live file.
    """
    if not db_path.exists():
        raise FileNotFoundError(f"there is no database at {db_path} (check --data-dir)")
    if dest.is_dir():
        dest = dest / download_name()
    if dest.exists() and not force:
        raise FileExistsError(f"{dest} already exists (use --force to overwrite it)")
    Database(db_path).backup_to_blocking(dest)
    return dest, check_backup_file(dest)


def restore_offline(settings: Settings, db_name: str, source: Path) -> OfflineRestore:
    """Replace the database of a stopped server with `source`, checked first.

    Safe against a running server: it holds <data-dir>/ledgrab.lock, so this raises
    DataDirLockedError and changes nothing; a server starting meanwhile waits for the lock.
    """
    data_dir = Path(settings.data_dir)
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        work = data_dir / WORK_DIR
        work.mkdir(parents=True, exist_ok=True)
        # A private copy first: the file (on a stick, say) cannot change while it is checked.
        copied = work / f"cli-restore-{source.name}"
        staged = work / f"cli-rebuilt-{source.name}"
        shutil.copyfile(source, copied)
        try:
            admitted = admit_backup(copied, staged)
            info, applied = admitted.info, admitted.migrated_to
            live = data_dir / db_name
            check_chain(copied, live, force=False)  # a broken chain is refused here too
            aside, undo = install_file(staged, live, "pre-restore")
        finally:
            copied.unlink(missing_ok=True)
            staged.unlink(missing_ok=True)
        db = Database(live)
        try:
            db.open()  # proves the new file opens; migrations were applied to the copy already
        except BaseException:
            db.close()
            undo()
            raise
        prune_aside(live, "pre-restore", settings.backup.keep_pre_restore)
        if aside is not None and not aside.exists():
            aside = None
        _record_in(db, source, info, aside)
    finally:
        lock.release()
    return OfflineRestore(info, applied, str(aside) if aside else None)


def _record_in(db: Database, source: Path, info: BackupInfo, aside: Path | None) -> None:
    """The restore entry goes into the restored log (no server runs)."""
    message = (
        f"restored backup {source.name} from the command line (schema version "
        f"{info.schema_version}, {info.size_bytes} bytes)"
        + (f"; the previous database is kept as {aside.name}" if aside else "")
    )
    record_and_close(
        db,
        "restore.completed",
        message=message,
        metadata={"file": source.name, "previous_database": aside.name if aside else None},
    )
