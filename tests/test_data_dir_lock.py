"""The data-dir lock: one holder at a time, the refusal names the holder, release frees it."""

from __future__ import annotations

import os

import pytest

from ledgrab.core.backup.db_files import DataDirLock, DataDirLockedError


def test_one_holder_at_a_time(tmp_path):
    first, second = DataDirLock(tmp_path), DataDirLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(DataDirLockedError) as refused:
            second.acquire(wait_s=0.2, poll_s=0.05)
        assert f"pid {os.getpid()}" in str(refused.value)
        assert not second.held
    finally:
        first.release()
    second.acquire()
    assert second.held
    second.release()
    second.release()  # idempotent


def test_schema_lists_the_backup_routes(server):
    with server.client() as client:
        paths = client.get("/schema/openapi.json").json()["paths"]
    for path in ("/api/v1/system/backup", "/api/v1/system/restore", "/api/v1/system/backup/auto"):
        assert path in paths
