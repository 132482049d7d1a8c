"""The activity export is read and encoded by a child process at a lower CPU priority (the
frame loops never share a GIL with it), and that child never outlives its download."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from pathlib import Path

import psutil
import pytest

from ledgrab.core.activity_log.export_worker import ExportWorkerError, export_in_worker
from ledgrab.storage.activity_log import ActivityLogFilters, ActivityLogRepository, Category
from ledgrab.storage.database import Database
from ledgrab.utils.background_priority import LOWEST_NICENESS
from tests.support.hostile import open_raw
from tests.support.live_server import LiveServer, wait_for

ENTRIES = 20_000  # about 4 MB of CSV: far more than the pipe and a stalled socket hold


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
    # A client with a small receive buffer that stops reading: the server, and so the child
    # writing the body, has to wait for it (loopback buffers would otherwise take it all).
    request = (
        "GET /api/v1/activity/export?format=csv HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {big_log.api_key}\r\n\r\n"
    )
    with open_raw(big_log, timeout=30, receive_buffer=4096) as conn:
        conn.sendall(request.encode())
        assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        workers = wait_for(_export_workers, what="an export worker")
        assert len(workers) == 1
        wait_for(lambda: workers[0].nice() == LOWEST_NICENESS, what="the child's lowest priority")
        assert workers[0].is_running(), "the child ended before its client read the body"
    # The client left with most of the body unread: the child is stopped, not left reading.
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
