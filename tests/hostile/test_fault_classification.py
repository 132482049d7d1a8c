"""storage_fault() tells the card's faults from refused statements, by SQLite's own error code."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from ledgrab.storage.faults import is_corruption, storage_fault
from tests.support.db_files import make_ledgrab_db


def _error(fn) -> BaseException:
    with pytest.raises((sqlite3.Error, OSError)) as caught:
        fn()
    return caught.value


def test_a_write_on_a_read_only_connection_is_read_only(tmp_path):
    path = make_ledgrab_db(tmp_path / "a.db", rows=1)
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        exc = _error(lambda: conn.execute("INSERT INTO settings VALUES ('x', '1')"))
    finally:
        conn.close()
    fault = storage_fault(exc)
    assert fault is not None and fault.kind == "read_only" and fault.code == "SQLITE_READONLY"


def test_a_lock_held_elsewhere_is_locked_not_corrupt(tmp_path):
    path = make_ledgrab_db(tmp_path / "a.db", rows=1)
    holder = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        exc = _error(lambda: other.execute("SELECT count(*) FROM settings").fetchall())
    finally:
        other.close()
        holder.close()
    assert storage_fault(exc).kind == "locked" and not is_corruption(exc)


def test_garbage_is_corrupt(tmp_path):
    path = tmp_path / "a.db"
    path.write_bytes(b"\x00\xff" * 4096)
    conn = sqlite3.connect(path)
    try:
        exc = _error(lambda: conn.execute("PRAGMA quick_check").fetchall())
    finally:
        conn.close()
    assert is_corruption(exc) and storage_fault(exc).code == "SQLITE_NOTADB"


def test_a_refused_statement_is_no_fault(tmp_path):
    path = make_ledgrab_db(tmp_path / "a.db", rows=1)
    conn = sqlite3.connect(path)
    try:
        exc = _error(lambda: conn.execute("INSERT INTO settings VALUES ('k0', '1')"))
        assert isinstance(exc, sqlite3.IntegrityError)
        assert storage_fault(exc) is None
        assert storage_fault(_error(lambda: conn.execute("SELECT * FROM nowhere"))) is None
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("number", "kind"),
    [(errno.ENOSPC, "full"), (errno.EROFS, "read_only"), (errno.EIO, "io_error"),
     (errno.EACCES, "permission"), (errno.ENOENT, None)],
)  # fmt: skip
def test_os_errors_by_errno(number, kind):
    fault = storage_fault(OSError(number, "from the kernel"))
    assert (fault.kind if fault else None) == kind
