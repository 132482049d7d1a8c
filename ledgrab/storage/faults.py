"""storage_fault(): what an error says about the card (full, read-only, failing, locked, corrupt).

Classified by SQLite's own error code (or the OS errno), never by the text of a message. An
error that is not about the storage (a constraint, a refused statement) is not a fault.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import msgspec

__all__ = [
    "NEARLY_FULL_BYTES",
    "StorageFault",
    "StorageFaultError",
    "free_bytes",
    "is_corruption",
    "storage_fault",
]

# Below this much free space an I/O error while growing a file is the card being full: SQLite
# reports a -shm it cannot extend as SQLITE_IOERR_SHMSIZE, not as SQLITE_FULL.
NEARLY_FULL_BYTES = 256 << 10

_SQLITE_KINDS = {
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_IOERR: "io_error",
    sqlite3.SQLITE_READONLY: "read_only",
    sqlite3.SQLITE_CANTOPEN: "cannot_open",
    sqlite3.SQLITE_PERM: "permission",
    sqlite3.SQLITE_AUTH: "permission",
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_PROTOCOL: "locked",
    sqlite3.SQLITE_CORRUPT: "corrupt",
    sqlite3.SQLITE_NOTADB: "corrupt",
}
_ERRNO_KINDS = {
    errno.ENOSPC: "full",
    errno.EDQUOT: "full",
    errno.EFBIG: "full",
    errno.EROFS: "read_only",
    errno.EIO: "io_error",
    errno.EACCES: "permission",
    errno.EPERM: "permission",
}
_TEXT = {
    "full": "the card is full",
    "io_error": "the card reported an I/O error",
    "read_only": "the card is read-only",
    "cannot_open": "the database file cannot be opened",
    "permission": "LedGrab is not allowed to use the database file",
    "locked": "another program holds the database locked",
    "corrupt": "SQLite reports the database file as corrupt",
}


class StorageFault(msgspec.Struct, frozen=True):
    kind: str  # full, io_error, read_only, cannot_open, permission, locked, corrupt
    code: str  # SQLite's error name (SQLITE_FULL, SQLITE_IOERR_SHMSIZE, …) or the errno name
    detail: str  # the error's own text

    @property
    def summary(self) -> str:
        """One line for a person: what is wrong, then SQLite's or the OS's words."""
        return f"{_TEXT[self.kind]} ({self.code}: {self.detail})"


class StorageFaultError(OSError):
    """An operation stopped by a storage fault before it changed anything."""

    def __init__(self, fault: StorageFault, what: str) -> None:
        super().__init__(f"{what}: {fault.summary}")
        self.fault = fault


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes an unprivileged writer may still use on the file system holding `path`. Blocking."""
    where = Path(path)
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        st = os.statvfs(where)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def _refine(kind: str, db_path: Path) -> str:
    """SQLite says "I/O error" or "cannot open" for several causes; the file system tells which."""
    folder = db_path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read_only"
    except OSError:
        return kind
    free = free_bytes(folder)
    if free is not None and free < NEARLY_FULL_BYTES:
        return "full"
    wanted = os.R_OK | os.W_OK
    if not os.access(folder, wanted | os.X_OK) or (
        db_path.exists() and not os.access(db_path, wanted)
    ):
        return "permission"
    return kind


def storage_fault(
    exc: BaseException, db_path: str | os.PathLike[str] | None = None
) -> StorageFault | None:
    """The fault `exc` reports, or None when it is not about the storage. With `db_path` (the
    database file; blocking), a vague I/O or open error is told apart by asking the file system
    whether it is read-only, full, or closed to this user."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        kind = None if code is None else _SQLITE_KINDS.get(code & 0xFF)
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    elif isinstance(exc, OSError) and exc.errno is not None:
        kind = _ERRNO_KINDS.get(exc.errno)
        name = errno.errorcode.get(exc.errno, str(exc.errno))
    else:
        return None
    if kind is None:
        return None
    if kind in ("io_error", "cannot_open", "read_only") and db_path is not None:
        kind = _refine(kind, Path(db_path))
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return StorageFault(kind, name, text)


def is_corruption(exc: BaseException) -> bool:
    """Only SQLite saying SQLITE_CORRUPT or SQLITE_NOTADB makes a file corrupt."""
    fault = storage_fault(exc)
    return fault is not None and fault.kind == "corrupt"
