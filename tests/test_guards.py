"""The suite's own guards are live: a blocking call on an event loop fails the test."""

import asyncio
import time

import pytest
from blockbuster import BlockingError


def test_blocking_sleep_on_a_running_loop_is_caught():
    async def careless():
        time.sleep(0.001)

    with pytest.raises(BlockingError):
        asyncio.run(careless())


def test_blocking_file_read_on_a_running_loop_is_caught(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")

    async def careless():
        with open(path) as handle:
            return handle.read()

    with pytest.raises(BlockingError):
        asyncio.run(careless())
