"""Fixtures for every test: a leaked-thread guard, a blocked-event-loop guard, a live server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from blockbuster import BlockBuster, blockbuster_ctx

from ledgrab.storage.database import Database
from tests.support.live_server import LiveServer


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running after it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked:
            return
        time.sleep(0.05)
    pytest.fail(f"test leaked threads: {[t.name for t in leaked]}")


@pytest.fixture(autouse=True)
def blocking_guard(request: pytest.FixtureRequest) -> Iterator[BlockBuster]:
    """Fail any blocking call (file, socket, sleep) made on a running event loop's thread."""
    with blockbuster_ctx(excluded_modules=["tests", "pytest", "_pytest"]) as guard:
        # Import machinery and logging to a captured stream are not our event loop's work.
        for name in ("io.TextIOWrapper.write", "io.BufferedWriter.write"):
            if name in guard.functions:
                guard.functions[name].can_block_in("logging/__init__.py", "emit")
        # A loop being closed joins its executor's threads: that wait is the end of serving,
        # not a stall of it (uvloop joins inline while the loop still counts as running).
        guard.functions["threading.Lock.acquire"].can_block_in("asyncio/runners.py", "close")
        if request.node.get_closest_marker("browser"):
            _exempt_this_thread(guard)
        yield guard


def _exempt_this_thread(guard: BlockBuster) -> None:
    """Let the test thread block; every other thread (the server's loop) stays guarded.

    Playwright's sync API drives its own asyncio loop in the test thread (through greenlets), so
    every call made there, by the test or by Playwright itself, looks like one made "on a running
    loop". The predicate is bound when a function is wrapped, hence deactivate/activate.
    """
    test_thread = threading.get_ident()
    guard.deactivate()
    for function in guard.functions.values():
        previous = function.can_block_predicate

        def allowed(*args, _previous=previous, **kwargs) -> bool:
            return threading.get_ident() == test_thread or _previous(*args, **kwargs)

        function.can_block_predicate = allowed
    guard.activate()


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    """A started server with a fresh data directory; its admin key is `server.api_key`."""
    with LiveServer(tmp_path / "data") as live:
        yield live


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    """An open Database on a fresh file, closed after the test."""
    database = Database(tmp_path / "ledgrab.db")
    database.open()
    yield database
    database.close()
