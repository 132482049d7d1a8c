"""TargetRunner: one running target's frame loop: render, correct, send, pace, reconnect.

Pacing uses absolute deadlines on the loop's monotonic clock (whole multiples of the frame
interval), so the error of one wake-up does not carry into the next; a loop that falls a whole
frame behind skips ahead instead of bursting frames to catch up. Frames are produced by a timer
callback that re-arms itself (no task switch or future per frame: on a Pi Zero that overhead is
most of a frame's cost); a task owns opening, backoff and reconnecting. A failing device is
closed and reopened with exponential backoff; nothing raises out of the loop or blocks it.

A source that can `watch(callback)` (capture) is sent straight through: each frame that arrives
goes out at once, or when the fps cap allows (one frame per interval, newest wins), with the
same colour correction; the ticks then only repeat a paused stream and show the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from ledgrab.core.devices.base import DeviceDriver, DriverError, DriverHealth
from ledgrab.core.effects.base import FrameSource
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.frame_timer import frame_timer
from ledgrab.core.processing.pipeline import Pipeline, wire_fps_limit
from ledgrab.models.targets import TargetConfig
from ledgrab.utils.tasks import cancel_and_wait

__all__ = ["RunnerTimings", "TargetRunner", "TargetState"]

# A timer may fire this much before its deadline (the loop's clock resolution, float rounding).
_EARLY_S = 1e-6
# How long the ticks stay quiet after a capture frame: a stream that pauses longer gets its last
# frame repeated on the ticks again (a WLED leaves realtime mode after 2.5 s without a frame).
FED_HOLD_S = 1.0

log = logging.getLogger(__name__)


class RunnerTimings(msgspec.Struct, frozen=True, kw_only=True):
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    state_interval_s: float = 1.0


class TargetState(msgspec.Struct, kw_only=True):
    target_id: str
    running: bool
    # stopped | running | reconnecting (it sent frames, then lost its device or source and
    # retries) | failed (it has not sent one frame since it started, and retries)
    status: str
    fps: int
    fps_effective: float
    fps_limit_reason: str | None
    fps_measured: float
    frames_sent: int
    frames_skipped: int
    errors: int
    last_error: str | None
    late_ms_p99: float | None
    device: DriverHealth | None


def _p99(values: deque[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _close_source(source: FrameSource) -> None:
    """Release what a source holds (a capture source's UDP input); effects hold nothing."""
    close = getattr(source, "close", None)
    if callable(close):
        try:
            close()
        except Exception as exc:  # releasing must not stop a stop
            log.warning("closing a source failed: %s", exc)


class TargetRunner:
    def __init__(
        self,
        target_id: str,
        config: TargetConfig,
        device_config: Any,
        source: FrameSource,
        driver: DeviceDriver,
        bus: EventBus,
        timings: RunnerTimings,
        *,
        clock: Callable[[], float] | None = None,
        scheduler: Callable[[float, Callable[[], None]], asyncio.Handle] | None = None,
        on_trouble: Callable[[str | None], None] | None = None,
    ) -> None:
        self.target_id = target_id
        self.device_id = config.device_id
        self.driver = driver
        self._device = device_config
        self._bus = bus
        self._timings = timings
        self.status = "stopped"
        self.frames_sent = 0
        self.frames_skipped = 0
        self.errors = 0
        self.last_error: str | None = None
        self.fps_measured = 0.0
        self.last_rendered: bytes = b""
        # Bounded: lateness of the last 600 wake-ups (10 s at 60 fps), for the p99 in the state.
        self._late: deque[float] = deque(maxlen=600)
        self._task: asyncio.Task[None] | None = None
        # Injected in tests to run the pacing on a simulated clock; otherwise the monotonic clock
        # and the loop's FrameTimer (the loop's own timers are a millisecond coarse).
        self._clock = clock
        self._scheduler = scheduler
        self._timer: asyncio.Handle | None = None
        self._failure: asyncio.Future[tuple[str, str]] | None = None
        # Told the reason when the target first fails, None when it sends frames again.
        self._on_trouble = on_trouble
        self._troubled = False
        # identify(): a wire frame sent instead of the rendered one until this (loop) time
        self._override: tuple[bytes, float] | None = None
        self._index = 0
        self._grid_interval = 0.0
        self._deadline = 0.0
        # Capture straight through: a fed source calls _fed when a frame arrives.
        self._fed_timer: asyncio.Handle | None = None
        self._unwatch: Callable[[], None] | None = None
        self._last_sent = self._last_fed = -math.inf
        self._fed_waiting = False  # a capture frame arrived that no send has carried yet
        self.reconfigure(config, source)

    # -- configuration -----------------------------------------------------------------------

    def reconfigure(self, config: TargetConfig, source: FrameSource) -> None:
        """Apply new target settings or a new source without stopping the loop."""
        previous = getattr(self, "source", None)
        self.config = config
        self.source = source
        if previous is not None and previous is not source:
            self._stop_watching()
            _close_source(previous)
            # The next tick renders the new source, which is what opens its input: waiting out a
            # stream's hold instead would outlast the old input's release grace and drop the port.
            self._last_fed = -math.inf
        self._watch()
        device = self._device
        self.pipeline = Pipeline(
            device.led_count,
            brightness=config.brightness,
            gamma=config.gamma,
            order=config.color_order or device.color_order,
            rgbw=device.rgbw,
        )
        limit, reason = wire_fps_limit(device)
        if limit is not None and limit < config.fps:
            self.fps_effective, self.fps_limit_reason = limit, reason
        else:
            self.fps_effective, self.fps_limit_reason = float(config.fps), None
        self.interval = 1.0 / self.fps_effective

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self.status = "running"
        self._watch()
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"frame-loop-{self.target_id}"
        )
        self._bus.publish("target_started", {"target_id": self.target_id})

    def flash(self, frame: bytes, seconds: float) -> None:
        """Send `frame` (already in wire order) instead of the source for `seconds`, then go on
        with the source: what was there comes back by itself."""
        self._override = (frame, asyncio.get_running_loop().time() + seconds)

    async def stop(self, reason: str = "stopped", *, on_stop: str | None = None) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self._stop_watching()
        _close_source(self.source)
        on_stop = on_stop or self.config.on_stop
        if self.driver.is_open:
            if on_stop in ("black", "restore"):
                with contextlib.suppress(DriverError):
                    self.driver.send(bytes(self._leds() * (4 if self._device.rgbw else 3)))
            try:
                await self.driver.close(restore=on_stop == "restore")
            except Exception as exc:  # a device that fails while closing must not stop the stop
                log.warning("closing the device of target %s failed: %s", self.target_id, exc)
        self.status = "stopped"
        self._bus.publish("target_stopped", {"target_id": self.target_id, "reason": reason})

    def _watch(self) -> None:
        watch = getattr(self.source, "watch", None)
        if callable(watch) and self._unwatch is None:
            self._unwatch = watch(self._fed)

    def _stop_watching(self) -> None:
        unwatch, self._unwatch = self._unwatch, None
        if unwatch is not None:
            unwatch()

    def _leds(self) -> int:
        return self._device.led_count

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        """Open the device (with backoff), then tick on timer callbacks until something fails."""
        loop = asyncio.get_running_loop()
        self._now = self._clock or time.monotonic
        self._call_at = self._scheduler or frame_timer(loop).call_at
        backoff = self._timings.reconnect_initial_s
        self._started = self._now()
        self._window_start, self._window_frames = self._started, 0
        self._next_state = self._started + self._timings.state_interval_s
        while True:
            if not self.driver.is_open:
                try:
                    await self.driver.open()
                except (DriverError, OSError) as exc:
                    await self._backoff(f"cannot open the device: {exc}", backoff)
                    backoff = min(backoff * 2, self._timings.reconnect_max_s)
                    continue
                backoff = self._timings.reconnect_initial_s
                self.status = "running"
                self._device_event()
            self._failure = loop.create_future()
            self._grid_interval = 0.0  # forces a fresh grid position
            self._schedule(self._now())
            try:
                kind, message = await self._failure
            finally:
                for timer in (self._timer, self._fed_timer):
                    if timer is not None:
                        timer.cancel()
                self._timer = self._fed_timer = None
            if kind == "device":
                with contextlib.suppress(Exception):
                    await self.driver.close()
            await self._backoff(message, backoff)
            backoff = min(backoff * 2, self._timings.reconnect_max_s)

    def _schedule(self, now: float) -> None:
        """Arm the timer for the next grid point after `now`.

        Deadlines are whole multiples of the interval on the monotonic clock (plus the driver's
        `tick_delay_s()`): they never drift, and targets with the same fps and delay wake in the
        same loop iteration (one wake-up for all).
        A tick that comes a whole interval late or more skips the missed points instead of
        bursting frames to catch up.
        """
        interval = self.interval
        delay = self.driver.tick_delay_s()
        if interval != self._grid_interval:
            self._grid_interval = interval
            self._index = math.floor((now - delay) / interval)
        index = self._index + 1
        if index * interval + delay <= now:
            caught_up = math.floor((now - delay) / interval) + 1
            self.frames_skipped += caught_up - index
            index = caught_up
        self._index = index
        self._deadline = index * interval + delay
        self._timer = self._call_at(self._deadline, self._tick)

    def _tick(self) -> None:
        self._timer = None
        now = self._now()
        self._late.append(now - self._deadline)
        # While capture frames come in, they go out as they arrive and the ticks stay quiet; a
        # stream that pauses for FED_HOLD_S has its last frame repeated on the ticks, and once
        # it times out the ticks show the source's fallback.
        if now < self._last_fed + max(self.interval, FED_HOLD_S) or self._send_frame(now, True):
            self._schedule(now)

    def _fed(self) -> None:
        """A capture frame arrived (on the loop): send it now, or as soon as the fps cap (the
        target's, or the wire's) allows, instead of waiting for the next tick."""
        if self._timer is None:
            return  # not sending now (opening, backing off, stopped)
        self._fed_waiting = True
        if self._fed_timer is not None:
            return  # one already waits for the cap; it sends the newest frame
        due = self._last_sent + self.interval
        if self._now() + _EARLY_S >= due:
            self._send_fed()
        else:
            self._fed_timer = self._call_at(due, self._send_fed)

    def _send_fed(self) -> None:
        self._fed_timer = None
        if self._timer is None or not self._fed_waiting:
            return  # stopped meanwhile, or a tick at the same moment carried the frame
        if not self._send_frame(self._now(), False) and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _send_frame(self, now: float, on_grid: bool) -> bool:
        """Render, correct and send one frame (on the grid: for the tick's grid point, which a
        paced driver holds until then plus its lead); False when the device or source failed."""
        try:
            rendered = self.source.render(now - self._started, self._leds())
            # Kept by reference (no copy) for the UI preview: RGB before brightness/wire order.
            self.last_rendered = rendered
            override = self._override
            if override is not None and asyncio.get_running_loop().time() < override[1]:
                self.driver.send(override[0])
            else:
                self._override = None
                frame = self.pipeline.apply(rendered)
                if on_grid:
                    # Computed as _schedule() will, so the pacer's expectation matches exactly.
                    next_at = (self._index + 1) * self.interval
                    self.driver.send_for(frame, self._deadline, next_at)
                else:
                    self.driver.send(frame)
        except DriverError as exc:
            self._failure.set_result(("device", str(exc)))
            return False
        except Exception as exc:  # a broken source: report and keep trying, slowly
            message = f"rendering failed: {exc}"
            if message != self.last_error:
                log.exception("target %s: %s", self.target_id, message)
            self._failure.set_result(("source", message))
            return False
        self._last_sent = now
        if self._fed_waiting:
            self._fed_waiting, self._last_fed = False, now
        self.frames_sent += 1
        self._window_frames += 1
        if self._troubled:
            self._troubled = False
            self.status = "running"
            if self._on_trouble is not None:
                self._on_trouble(None)
        if now >= self._next_state:
            self.fps_measured = self._window_frames / (now - self._window_start)
            self._window_start, self._window_frames = now, 0
            self._next_state = now + self._timings.state_interval_s
            self._bus.publish("target_state", msgspec.to_builtins(self.state()))
        return True

    async def _backoff(self, message: str, delay: float) -> None:
        self.errors += 1
        if message != self.last_error:
            log.warning("target %s: %s; retrying in %.1f s", self.target_id, message, delay)
        self.last_error = message
        self.status = "reconnecting" if self.frames_sent else "failed"
        if not self._troubled:
            self._troubled = True
            if self._on_trouble is not None:
                self._on_trouble(message)
        self._device_event()
        self._bus.publish("target_state", msgspec.to_builtins(self.state()))
        await asyncio.sleep(delay)

    def _device_event(self) -> None:
        health = self.driver.health()
        self._bus.publish(
            "device_state",
            {
                "device_id": self.device_id,
                "state": health.state,
                "last_error": health.last_error,
                "at": time.time(),
            },
        )

    def state(self) -> TargetState:
        late = _p99(self._late)
        return TargetState(
            target_id=self.target_id,
            running=self.running,
            status=self.status if self.running else "stopped",
            fps=self.config.fps,
            fps_effective=round(self.fps_effective, 2),
            fps_limit_reason=self.fps_limit_reason,
            fps_measured=round(self.fps_measured, 2),
            frames_sent=self.frames_sent,
            frames_skipped=self.frames_skipped,
            errors=self.errors,
            last_error=self.last_error,
            late_ms_p99=None if late is None else round(late * 1000, 3),
            device=self.driver.health(),
        )
