"""Files only LedGrab's user may read: the database (key hashes, the audit trail) and its copies.

Two layers: the command line sets a umask of 077, so everything the process creates (the lock,
backups, exports, files set aside) starts private; and the database file itself is created or
tightened to 0600 explicitly, because SQLite gives its -wal and -shm the database file's mode and
the database must stay private when the app runs under another entry point.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["PRIVATE_MODE", "make_private", "open_private", "private_new_files"]

PRIVATE_MODE = 0o600
_PRIVATE_UMASK = 0o077
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


@contextlib.contextmanager
def private_new_files() -> Iterator[None]:
    """Inside, this process creates files 0600 and directories 0700; the umask is put back after
    (the command line's main() may be called in-process, by tests)."""
    previous = os.umask(_PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def make_private(database: Path) -> None:
    """Create `database` empty and 0600 if missing; tighten it and its SQLite companions if not.

    A file owned by another user is left as it is (chmod is refused): opening it still works.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    for path in (database, *(database.with_name(database.name + s) for s in _SQLITE_COMPANIONS)):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                os.chmod(path, mode & 0o700)
        except (FileNotFoundError, PermissionError):
            continue


def open_private(path: Path) -> BinaryIO:
    """Open `path` for binary writing, created 0600 (an existing file is truncated, tightened)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    with contextlib.suppress(PermissionError):
        os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) & 0o700)
    return os.fdopen(fd, "wb")
