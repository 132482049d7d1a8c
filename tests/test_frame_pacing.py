"""The frame loop's pacing and recovery, on a simulated clock and a recording virtual device."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from ledgrab.core.devices.base import DeviceDriver
from ledgrab.core.devices.virtual import VirtualDriver
from ledgrab.core.effects.patterns import Static, StaticParams
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.target_runner import RunnerTimings, TargetRunner
from ledgrab.models.devices import VirtualDevice
from ledgrab.models.targets import TargetConfig


class SimClock:
    """Simulated time: sleeping jumps the clock to the deadline plus a scripted lateness."""

    def __init__(self, lateness):
        self.now = 1000.0
        self.lateness = iter(lateness)
        self.deadlines: list[float] = []

    def __call__(self) -> float:
        return self.now

    def call_at(self, deadline, callback):
        self.deadlines.append(deadline)

        def fire():
            self.now = max(self.now, deadline) + next(self.lateness, 0.0)
            callback()

        return asyncio.get_running_loop().call_soon(fire)


class RecordingSource:
    def __init__(self):
        self.times: list[float] = []

    def render(self, t, led_count):
        self.times.append(t)
        return bytes(led_count * 3)


def _runner(driver, source, clock, fps=50, timings=None):
    device = VirtualDevice(name="v", led_count=3)
    config = TargetConfig(name="t", device_id="d", source_id="s", fps=fps)
    return TargetRunner(
        "tgt_test",
        config,
        device,
        source,
        driver,
        EventBus(),
        timings or RunnerTimings(),
        clock=clock,
        scheduler=clock.call_at,
    )


async def _run_until(runner, predicate):
    runner.start()
    for _ in range(100_000):
        if predicate():
            break
        await asyncio.sleep(0)
    await runner.stop()


def test_deadlines_stay_on_the_grid_whatever_the_wakeup_error():
    # Wake-ups up to 7 ms late: a naive sleep(interval) loop would drift by their sum.
    clock = SimClock([0.007, 0.001, 0.004, 0.0, 0.006] * 40)
    source = RecordingSource()
    runner = _runner(VirtualDriver(VirtualDevice(name="v", led_count=3)), source, clock)
    asyncio.run(_run_until(runner, lambda: len(clock.deadlines) >= 150))
    start = clock.deadlines[0]
    for k, deadline in enumerate(clock.deadlines[:150]):
        assert deadline == pytest.approx(start + k * 0.02, abs=1e-9)
    assert (start / 0.02) == pytest.approx(round(start / 0.02))  # on the shared 50 fps grid
    assert runner.frames_skipped == 0
    assert runner.frames_sent >= 150


def test_a_stall_skips_ahead_instead_of_bursting():
    lateness = [0.0] * 10 + [0.095] + [0.0] * 50  # one 95 ms stall at 50 fps
    clock = SimClock(lateness)
    source = RecordingSource()
    runner = _runner(VirtualDriver(VirtualDevice(name="v", led_count=3)), source, clock)
    asyncio.run(_run_until(runner, lambda: len(clock.deadlines) >= 40))
    assert runner.frames_skipped == 4
    gaps = [b - a for a, b in zip(clock.deadlines, clock.deadlines[1:], strict=False)]
    assert all(g == pytest.approx(0.02) or g == pytest.approx(0.1) for g in gaps)
    # Rendering times follow the simulated clock, so the effect sees real elapsed time.
    assert source.times == sorted(source.times)


class ShiftingDriver(VirtualDriver):
    """A strip whose frames are made 6 ms after the grid point for its first ten ticks and on it
    after (as a network driver moves from sending itself to its pacer slot)."""

    def __init__(self):
        super().__init__(VirtualDevice(name="v", led_count=3))
        self.asked = 0

    def tick_delay_s(self) -> float:
        self.asked += 1
        return 0.006 if self.asked <= 10 else 0.0


def test_a_drivers_tick_delay_moves_the_deadlines_by_it_and_keeps_them_on_the_grid():
    clock = SimClock([0.001, 0.0, 0.003] * 20)
    runner = _runner(ShiftingDriver(), RecordingSource(), clock)
    asyncio.run(_run_until(runner, lambda: len(clock.deadlines) >= 20))
    grid = [round(deadline / 0.02, 6) for deadline in clock.deadlines[:20]]
    shifted, on_grid = grid[:10], grid[10:]
    assert all(g - int(g) == pytest.approx(0.3) for g in shifted), shifted  # 6 ms of 20
    assert all(g == round(g) for g in on_grid), on_grid
    assert [b - a for a, b in itertools.pairwise(grid)] == pytest.approx(
        [1.0] * 9 + [0.7] + [1.0] * 9
    )
    assert runner.frames_skipped == 0


class FlakyDriver(DeviceDriver):
    """Fails to open `open_failures` times, then breaks after `good_frames` frames once."""

    def __init__(self, open_failures: int, good_frames: int):
        super().__init__(None)
        self.open_failures = open_failures
        self.good_frames = good_frames
        self.opens = 0
        self.broke = False

    async def open(self):
        self.opens += 1
        if self.open_failures:
            self.open_failures -= 1
            raise self._fail("no route to the strip")
        self._state = "open"

    def send(self, frame):
        if not self.broke and self.frames_sent == self.good_frames:
            self.broke = True
            raise self._fail("strip unplugged")
        self.frames_sent += 1

    async def close(self, *, restore=False):
        self._state = "closed"


def test_a_failing_device_is_retried_with_backoff_and_recovers():
    driver = FlakyDriver(open_failures=3, good_frames=5)
    clock = SimClock([])
    timings = RunnerTimings(reconnect_initial_s=0.001, reconnect_max_s=0.004)
    runner = _runner(driver, Static(StaticParams()), clock, timings=timings)
    bus = runner._bus
    sub_events: list[str] = []
    bus.publish = lambda event_type, payload=None: sub_events.append(event_type)  # recorder
    asyncio.run(_run_until(runner, lambda: driver.frames_sent >= 20))
    assert driver.opens == 5  # three failures, the first success, the reopen after the unplug
    assert runner.errors == 4
    assert runner.last_error == "strip unplugged"
    assert driver.frames_sent >= 20
    assert "device_state" in sub_events and "target_state" in sub_events


def test_a_broken_source_is_reported_not_raised():
    class Broken:
        def render(self, t, n):
            raise ZeroDivisionError("bad effect")

    clock = SimClock([])
    timings = RunnerTimings(reconnect_initial_s=0.001, reconnect_max_s=0.001)
    runner = _runner(
        VirtualDriver(VirtualDevice(name="v", led_count=3)), Broken(), clock, timings=timings
    )
    asyncio.run(_run_until(runner, lambda: runner.errors >= 3))
    assert "bad effect" in runner.last_error
    assert runner.frames_sent == 0
