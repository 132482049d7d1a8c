"""The data directory as the command line meets it: usable, or one line naming the path and why.

`serve` creates a missing directory when its parent exists (a first start), and refuses a missing
parent: that is almost always a mistyped --data-dir, and serving from it would start a fresh,
empty instance. The other commands only ever use a database a server has already made.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from ledgrab.utils.files import TEMPORARY_SUFFIX

__all__ = ["DataDirError", "existing_database", "prepare_for_serving"]

# Refused at once; anything else (a full, read-only or failing card) is left to the database
# layer, which tells those apart by SQLite's own error codes and leaves the file untouched.
_REFUSED = {errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.ENOENT}


class DataDirError(Exception):
    """One line: the path and the reason it cannot be used."""


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def prepare_for_serving(data_dir: Path, database_name: str) -> None:
    """Make sure a server can keep its state in `data_dir`, creating it on a first start."""
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(f"data directory {data_dir} is not a directory")
    if not data_dir.exists():
        parent = data_dir.absolute().parent
        if not parent.is_dir():
            raise DataDirError(
                f"data directory {data_dir} cannot be created: {parent} does not exist "
                "(check --data-dir, or create the parent first)"
            )
        try:
            data_dir.mkdir(mode=0o700)
        except OSError as exc:
            raise DataDirError(
                f"data directory {data_dir} cannot be created: {_reason(exc)}"
            ) from None
    try:
        os.listdir(data_dir)
    except OSError as exc:
        raise DataDirError(f"data directory {data_dir} cannot be read: {_reason(exc)}") from None
    try:
        # Named like write_durably's scratch, so the next start removes it if a cut leaves it.
        fd, probe = tempfile.mkstemp(
            dir=data_dir, prefix=".ledgrab-write-check-", suffix=TEMPORARY_SUFFIX
        )
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        if exc.errno in _REFUSED:
            raise DataDirError(
                f"data directory {data_dir} is not writable: {_reason(exc)}"
            ) from None
    database = data_dir / database_name
    if database.exists():
        try:
            os.close(os.open(database, os.O_RDWR))
        except OSError as exc:
            if exc.errno in _REFUSED:
                raise DataDirError(
                    f"database {database} cannot be opened: {_reason(exc)}"
                ) from None


def existing_database(data_dir: Path, database_name: str) -> Path:
    """The database a server made in `data_dir`; never creates one."""
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(f"data directory {data_dir} is not a directory")
    database = data_dir / database_name
    if not database.is_file():
        raise DataDirError(
            f"there is no database at {database} (check --data-dir; "
            "`ledgrab serve` creates it on its first start)"
        )
    return database
