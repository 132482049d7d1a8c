"""write_durably: a file replaced whole or not at all, with its mode set before any byte lands."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["sync_directory", "write_durably"]


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
    tmp = path.with_name(f".{path.name}.tmp")
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
