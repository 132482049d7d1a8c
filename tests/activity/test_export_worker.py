"""The activity export is read and encoded by a child process at a lower CPU priority (the
frame loops never share a GIL with it), and that child never outlives its download."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from pathlib import Path

import psutil
import pytest

from ledgrab.core.activity_log.export_worker import ExportWorkerError, export_in_worker
from ledgrab.storage.activity_log import ActivityLogFilters, ActivityLogRepository, Category
from ledgrab.storage.database import Database
from tests.support.live_server import LiveServer, wait_for

ENTRIES = 60_000  # megabytes of CSV: more than the pipe and socket buffers hold


def _fill(path: Path) -> None:
    db = Database(path)
    db.open()
    rng = random.Random(5)
    ts = int(time.time() * 1e6) - ENTRIES * 3_000_000  # recent: kept by max_days
    try:
        for start in range(0, ENTRIES, 10_000):
            batch = []
            for n in range(start + 1, start + 10_001):
                ts += rng.randint(0, 3) * 1_000_000
                message = f"Desk strip brightness set to {rng.randint(0, 100)} % #{n}"
                batch.append((f"{ts:014x}{n:06x}", ts, Category.DEVICE.value, "device.updated",
                              "info", "admin", message, "device", f"dev{n % 7}", None,
                              '{"fields": ["brightness"]}'))  # fmt: skip
            db.write_blocking(ActivityLogRepository.insert_rows, batch)
    finally:
        db.close()


def _export_workers() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if "ledgrab.core.activity_log.export_worker" in child.cmdline():
                found.append(child)
    return found


@pytest.fixture
def big_log(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _fill(data / "ledgrab.db")
    with LiveServer(data) as server:
        yield server


def test_a_download_is_encoded_by_a_niced_child_that_ends_with_it(big_log):
    with big_log.client() as client:
        with client.stream("GET", "/api/v1/activity/export", params={"format": "csv"}) as r:
            assert r.status_code == 200
            assert next(r.iter_bytes()).startswith(b"id,ts,")
            workers = _export_workers()
            assert len(workers) == 1, "the export is not read by a child process"
            assert workers[0].nice() == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
        # The client left after one chunk: the child is stopped, not left reading for nobody.
        wait_for(lambda: not _export_workers(), what="the export worker to end")


def test_a_whole_download_holds_every_entry(big_log):
    with big_log.client() as client:
        body = client.get("/api/v1/activity/export", params={"format": "csv"}).text
    assert body.count("device.updated") == ENTRIES
    assert not _export_workers()


class _MissingFile:
    @contextlib.asynccontextmanager
    async def file_held(self):
        yield Path("/nonexistent/ledgrab.db")


def test_a_failing_worker_ends_the_stream_with_its_reason():
    async def drain() -> None:
        async for _ in export_in_worker(_MissingFile(), ActivityLogFilters(), "csv"):
            pass

    with pytest.raises(ExportWorkerError, match=r"no database at /nonexistent/ledgrab\.db"):
        asyncio.run(drain())
