"""The frame timer on real event loops (asyncio's and uvloop's) and a real timerfd: deadlines run
in order and never before their time, cancelled ones never, a failing callback does not stop the
others, and no descriptor is left once nothing is due."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import uvloop

from ledgrab.core.processing.frame_timer import frame_timer

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture(params=sorted(LOOPS))
def run(request):
    loop = LOOPS[request.param]()
    yield loop.run_until_complete
    loop.close()


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_deadlines_run_in_order_and_never_early(run):
    async def scenario() -> list[tuple[str, float, float]]:
        timer = frame_timer(asyncio.get_running_loop())
        start = time.monotonic()
        fired: list[tuple[str, float, float]] = []
        done = asyncio.get_running_loop().create_future()
        plan = {"c": 0.030, "a": 0.010, "b": 0.020, "past": -1.0}
        for name, offset in plan.items():
            when = start + offset

            def fire(name: str = name, when: float = when) -> None:
                fired.append((name, when, time.monotonic()))
                if len(fired) == len(plan):
                    done.set_result(None)

            timer.call_at(when, fire)
        await asyncio.wait_for(done, 10)
        return fired

    fired = run(scenario())
    assert [name for name, _, _ in fired] == ["past", "a", "b", "c"]
    assert all(at >= when for _, when, at in fired)


def test_a_cancelled_deadline_never_runs_and_the_descriptor_is_closed_after(run):
    async def scenario() -> tuple[list[str], bool]:
        loop = asyncio.get_running_loop()
        timer = frame_timer(loop)
        before = await asyncio.to_thread(_open_fds)
        ran: list[str] = []
        now = time.monotonic()
        timer.call_at(now + 0.005, lambda: ran.append("kept"))
        timer.call_at(now + 0.002, lambda: ran.append("cancelled")).cancel()
        opened = await asyncio.to_thread(_open_fds) - before
        await asyncio.sleep(0.05)
        return ran, bool(opened) and not (opened & await asyncio.to_thread(_open_fds))

    ran, closed_after = run(scenario())
    assert ran == ["kept"]
    assert closed_after, "the timerfd stayed open with nothing due"


def test_a_failing_callback_is_reported_and_the_others_still_run(run):
    async def scenario() -> tuple[list[str], list[dict]]:
        loop = asyncio.get_running_loop()
        reported: list[dict] = []
        loop.set_exception_handler(lambda _loop, context: reported.append(context))
        timer = frame_timer(loop)
        ran: list[str] = []
        when = time.monotonic() + 0.003

        def broken() -> None:
            raise ValueError("a broken frame")

        timer.call_at(when, broken)
        timer.call_at(when, lambda: ran.append("next"))
        await asyncio.sleep(0.05)
        return ran, reported

    ran, reported = run(scenario())
    assert ran == ["next"]
    assert [type(c["exception"]) for c in reported] == [ValueError]


def test_a_callback_can_schedule_the_next_deadline(run):
    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        timer = frame_timer(loop)
        done = loop.create_future()
        count = 0
        interval = 1 / 120

        def tick(when: float) -> None:
            nonlocal count
            count += 1
            if count == 12:
                done.set_result(None)
            else:
                timer.call_at(when + interval, lambda: tick(when + interval))

        first = time.monotonic() + interval
        timer.call_at(first, lambda: tick(first))
        await asyncio.wait_for(done, 10)
        return count

    assert run(scenario()) == 12
