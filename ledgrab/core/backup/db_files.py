"""The database file's neighbours: the data-dir lock, files set aside (pre-restore, corrupt)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ledgrab.utils.files import sync_directory

__all__ = [
    "LOCK_FILE",
    "DataDirLock",
    "DataDirLockedError",
    "install_file",
    "move_aside",
    "prune_aside",
    "timestamp",
]

LOCK_FILE = "ledgrab.lock"
_COMPANIONS = ("-wal", "-shm", "-journal")


class DataDirLockedError(RuntimeError):
    """Another process (a running server, a CLI restore) holds the data directory's lock."""


class DataDirLock:
    """An exclusive flock on <data-dir>/ledgrab.lock, held by the server and by a CLI restore.

    The kernel drops the lock when its holder dies, so a crash leaves no stale lock behind.
    """

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.0, poll_s: float = 0.1) -> None:
        """Take the lock, waiting up to `wait_s`; raise DataDirLockedError naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise DataDirLockedError(
                        f"{self.path} is held by another LedGrab process ({holder})"
                    ) from None
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def timestamp(when: datetime | None = None, *, ms: bool = False) -> str:
    """A UTC time for file names that sorts as text: 20261125T204212Z (or …T204212.345Z)."""
    when = when or datetime.now(UTC)
    if ms:
        return when.strftime("%Y%m%dT%H%M%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y%m%dT%H%M%SZ")


def move_aside(db_path: Path, label: str) -> Path:
    """Rename the database (and any -wal/-shm/-journal beside it) to <name>.<label>-<time>."""
    aside = db_path.with_name(f"{db_path.name}.{label}-{timestamp()}")
    n = 1
    while aside.exists():  # two in the same second
        aside = db_path.with_name(f"{db_path.name}.{label}-{timestamp()}-{n}")
        n += 1
    for suffix in _COMPANIONS:
        companion = Path(f"{db_path}{suffix}")
        if companion.exists():
            os.replace(companion, f"{aside}{suffix}")
    os.replace(db_path, aside)
    sync_directory(db_path.parent)
    return aside


def install_file(staged: Path, db_path: Path, label: str) -> tuple[Path | None, Callable[[], None]]:
    """Move the live file aside (if any) and `staged` into its place; return the aside path and
    an undo that puts the old file back."""
    for suffix in _COMPANIONS:  # a stale -wal would be replayed into the new file
        Path(f"{staged}{suffix}").unlink(missing_ok=True)
    aside = move_aside(db_path, label) if db_path.exists() else None
    os.replace(staged, db_path)
    sync_directory(db_path.parent)

    def undo() -> None:
        for suffix in _COMPANIONS:
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        if aside is not None:
            for suffix in _COMPANIONS:
                if Path(f"{aside}{suffix}").exists():
                    os.replace(f"{aside}{suffix}", f"{db_path}{suffix}")
            os.replace(aside, db_path)
        else:
            db_path.unlink(missing_ok=True)
        sync_directory(db_path.parent)

    return aside, undo


def prune_aside(db_path: Path, label: str, keep: int) -> list[Path]:
    """Delete all but the newest `keep` files set aside under `label`; return those deleted."""
    prefix = f"{db_path.name}.{label}-"
    found = sorted(
        (p for p in db_path.parent.iterdir() if p.name.startswith(prefix)),
        key=lambda p: p.name,
    )
    mains = [p for p in found if not p.name.endswith(_COMPANIONS)]
    doomed = mains[: max(0, len(mains) - keep)]
    for path in doomed:
        for suffix in ("", *_COMPANIONS):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return doomed
