"""A target fed by a capture source sends each frame as it arrives (colour-corrected, at most
its fps), not at its next tick; without a stream its ticks show the fallback. Real DDP datagrams
on loopback into the real capture hub; the frame loop runs on a hand-advanced clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import socket

import pytest

from ledgrab.core.devices.virtual import VirtualDriver
from ledgrab.core.effects import capture_source
from ledgrab.core.effects.capture_receiver import CaptureHub
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.target_runner import RunnerTimings, TargetRunner
from ledgrab.models.devices import VirtualDevice
from ledgrab.models.effects import EFFECTS, CaptureParams, StaticParams
from ledgrab.models.targets import TargetConfig
from tests.support.ddp import ddp_frame

LEDS = 4
FPS = 10  # an interval of 0.1 s on the hand-advanced clock


class HandClock:
    """Time moves only in advance_to(), which fires the due timers in deadline order."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.fired: list[float] = []
        self._timers: list = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def call_at(self, deadline: float, callback):
        handle = asyncio.get_running_loop().call_later(3600, callback)  # only for cancel()
        heapq.heappush(self._timers, (deadline, next(self._order), handle, callback))
        return handle

    def advance_to(self, moment: float) -> None:
        while self._timers and self._timers[0][0] <= moment:
            deadline, _, handle, callback = heapq.heappop(self._timers)
            if handle.cancelled():
                continue
            handle.cancel()
            self.now = max(self.now, deadline)
            self.fired.append(deadline)
            callback()
        self.now = max(self.now, moment)

    def next_deadline(self) -> float:
        return min(d for d, _, h, _ in self._timers if not h.cancelled())


class Strip(VirtualDriver):
    def __init__(self, device) -> None:
        super().__init__(device)
        self.frames: list[bytes] = []

    def send(self, frame: bytes) -> None:
        super().send(frame)
        self.frames.append(bytes(frame))


class Rig:
    def __init__(self, fallback: str = "black") -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.hub = CaptureHub(bind_host="127.0.0.1")
        capture_source.set_capture_hub(self.hub)
        extra = {}
        if fallback == "effect":
            extra["fallback_effect"] = EFFECTS["static"](params=StaticParams(color="#ff0000"))
        params = CaptureParams(
            protocol="ddp", port=self.port, timeout_s=30, fallback=fallback, **extra
        )
        self.params = params
        device = VirtualDevice(name="strip", led_count=LEDS)
        config = TargetConfig(name="t", device_id="d", source_id="s", fps=FPS, gamma=1.0,
                              brightness=0.5, color_order="grb")  # fmt: skip
        self.clock = HandClock()
        self.strip = Strip(device)
        self.runner = TargetRunner("t", config, device, capture_source.CaptureSource(params),
                                   self.strip, EventBus(), RunnerTimings(),
                                   clock=self.clock, scheduler=self.clock.call_at)  # fmt: skip
        self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sender.setblocking(False)  # sent from the event loop
        self.sequence = 0

    async def start(self) -> None:
        self.runner.start()
        while not self.clock._timers:  # the device opens, the first tick is armed
            await asyncio.sleep(0)
        self.tick()  # the first render opens the capture input

    def tick(self) -> None:
        self.clock.advance_to(self.clock.next_deadline())

    async def feed(self, pixels: bytes) -> None:
        """One frame over real UDP; returns once the hub has taken it in."""
        target = capture_source.capture_input_for(self.params)
        frames = target.stats.frames
        self.sequence = self.sequence % 15 + 1
        for packet in ddp_frame(pixels, sequence=self.sequence):
            self.sender.sendto(packet, ("127.0.0.1", self.port))
        for _ in range(5000):
            if target.stats.frames > frames:
                return
            await asyncio.sleep(0.001)
        raise AssertionError("the capture input never got the frame")

    async def close(self) -> None:
        self.sender.close()
        await self.runner.stop()
        self.hub.close()
        capture_source.set_capture_hub(None)


def _wire(r: int, g: int, b: int) -> bytes:
    """What the strip gets for one pixel: brightness 0.5, gamma 1, GRB order."""
    return bytes(round(v * 0.5) for v in (g, r, b))


def test_a_capture_frame_goes_out_when_it_arrives_not_at_the_next_tick():
    async def scenario() -> None:
        rig = Rig()
        try:
            await rig.start()
            await rig.feed(bytes([200, 100, 50]) * LEDS)  # the first: at most one interval
            rig.tick()
            assert rig.strip.frames[-1] == _wire(200, 100, 50) * LEDS
            # Halfway to the next tick, one interval after the last frame: out at once.
            rig.clock.advance_to(rig.clock.now + 0.15)
            ticks, sent = len(rig.clock.fired), len(rig.strip.frames)
            await rig.feed(bytes([10, 20, 30]) * LEDS)
            assert len(rig.clock.fired) == ticks, "a tick ran"
            assert rig.strip.frames[sent:] == [_wire(10, 20, 30) * LEDS]
        finally:
            await rig.close()

    asyncio.run(scenario())


def test_frames_faster_than_the_target_fps_are_capped_newest_first():
    async def scenario() -> None:
        rig = Rig()
        try:
            await rig.start()
            start, sent = rig.clock.now, len(rig.strip.frames)
            for n in range(100):  # 100 frames in one second into a 10 fps target
                await rig.feed(bytes([n, n, n]) * LEDS)
                rig.clock.advance_to(start + (n + 1) * 0.01)
            assert FPS - 1 <= len(rig.strip.frames) - sent <= FPS + 1
            # The last frame waited for the cap and still went out: the newest is never lost.
            rig.clock.advance_to(rig.clock.now + 1 / FPS)
            assert rig.strip.frames[-1] == _wire(99, 99, 99) * LEDS
        finally:
            await rig.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("fallback", ["effect", "black"])
def test_without_a_stream_the_ticks_show_the_fallback(fallback):
    async def scenario() -> None:
        rig = Rig(fallback)
        try:
            await rig.start()
            for _ in range(5):
                rig.tick()
            expected = _wire(255, 0, 0) if fallback == "effect" else bytes(3)
            assert rig.strip.frames == [expected * LEDS] * 6
        finally:
            await rig.close()

    asyncio.run(scenario())


def test_a_paused_stream_repeats_its_last_frame_on_the_ticks():
    async def scenario() -> None:
        rig = Rig("effect")
        try:
            await rig.start()
            await rig.feed(bytes([1, 2, 3]) * LEDS)
            rig.tick()
            quiet = len(rig.strip.frames)
            rig.clock.advance_to(rig.clock.now + 0.95)  # ticks while the stream is fresh
            assert len(rig.strip.frames) == quiet
            rig.clock.advance_to(rig.clock.now + 0.3)
            assert rig.strip.frames[quiet:] and set(rig.strip.frames[quiet:]) == {
                _wire(1, 2, 3) * LEDS
            }
        finally:
            await rig.close()

    asyncio.run(scenario())
