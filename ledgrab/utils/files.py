"""write_durably: a file replaced whole or not at all, with its mode set before any byte lands;
remove_leftover_temporaries: what a power cut left of one that was never renamed."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = [
    "MAX_LEFTOVER_TEMPORARIES",
    "TEMPORARY_SUFFIX",
    "remove_leftover_temporaries",
    "sync_directory",
    "write_durably",
]

TEMPORARY_SUFFIX = ".tmp"
# LedGrab writes at most three files whole per directory; a start removes no more than this many
# temporaries (a directory someone filled does not hold the start up), the rest at the next one.
MAX_LEFTOVER_TEMPORARIES = 32


def sync_directory(path: Path) -> None:
    """Make the creates, renames and unlinks in directory `path` durable: until its directory
    is synced, a file's name can vanish in a power cut even though its bytes were synced."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Temporary file beside `path` (mode set first), fsync, rename over `path`, fsync the
    directory: a Pi is often unplugged rather than shut down, and a reader sees old or new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TEMPORARY_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # O_CREAT's mode does not apply to a file left behind
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # A full card fails the write: leave no half-written temporary file on it.
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    sync_directory(path.parent)


def remove_leftover_temporaries(
    directory: Path, limit: int = MAX_LEFTOVER_TEMPORARIES
) -> list[str]:
    """Delete up to `limit` `.<name>.tmp` files (not directories) directly in `directory` and
    sync it; return their names. Call only while no write_durably can be running there (the
    data-dir lock held, before the writers start): a cut before the rename leaves the
    temporary, which is never a version of anything, since the file it was for is still old."""
    removed: list[str] = []
    try:
        entries = os.scandir(directory)
    except FileNotFoundError:
        return removed
    with entries:
        for entry in entries:
            if len(removed) >= limit:
                break
            name = entry.name
            if not (name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)):
                continue
            if entry.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(name)
    if removed:
        sync_directory(directory)
    return sorted(removed)
