"""ProcessorManager: starts, stops and reconfigures one TargetRunner per running target.

The manager is the only owner of drivers and frame loops. Entity routes tell it what changed
(`device_changed`, `source_changed`, `target_changed`); it applies target and source changes in
place and restarts a target whose device changed. `resume()` starts auto_start targets at
startup; `stop_all()` is the shutdown step docs/architecture.md orders after `server.shutting_down`.

Its methods are called on the server's loop; the runners, their drivers and capture inputs live
on the FrameThread's loop, and every call that touches them is handed over (`run_on_frames`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from ledgrab.core.activity_log.recorder import get_module_recorder
from ledgrab.core.devices.base import DeviceDriver
from ledgrab.core.devices.factory import DriverContext, create_driver
from ledgrab.core.effects.base import FrameSource
from ledgrab.core.effects.registry import build_source
from ledgrab.core.entity_events import fire_entity_event
from ledgrab.core.event_bus import EventBus
from ledgrab.core.processing.frame_thread import FrameThread
from ledgrab.core.processing.pacer import FramePacer
from ledgrab.core.processing.pipeline import Pipeline
from ledgrab.core.processing.target_runner import RunnerTimings, TargetRunner, TargetState
from ledgrab.models.devices import DeviceConfig
from ledgrab.models.sources import SourceConfig
from ledgrab.storage.entities import EntityStore

__all__ = ["EngineError", "ProcessorManager", "TroubleListener"]

log = logging.getLogger(__name__)
DriverFactory = Callable[[DeviceConfig, DriverContext], DeviceDriver]


def _white(device: Any) -> bytes:
    """Full white in the device's wire format (its colour order, a white channel if RGBW)."""
    pipeline = Pipeline(device.led_count, brightness=1.0, gamma=1.0, order=device.color_order,
                        rgbw=device.rgbw)  # fmt: skip
    return pipeline.apply(b"\xff" * (3 * device.led_count))


class TroubleListener(Protocol):
    """Told when a running target fails and when it sends frames again (on the event loop)."""

    def failed(self, target_id: str, name: str | None, reason: str) -> None: ...
    def recovered(self, target_id: str, name: str | None) -> None: ...
    def forget(self, target_id: str) -> None: ...


class EngineError(RuntimeError):
    """A target cannot be started as asked (missing device or source)."""


class ProcessorManager:
    def __init__(
        self,
        store: EntityStore,
        bus: EventBus,
        *,
        timings: RunnerTimings | None = None,
        context: DriverContext | None = None,
        driver_factory: DriverFactory = create_driver,
        trouble: TroubleListener | None = None,
        frame_thread: bool = True,
        frame_priority: int = 0,
    ) -> None:
        self._store = store
        self._bus = bus
        self._timings = timings or RunnerTimings()
        self._context = context or DriverContext()
        self._driver_factory = driver_factory
        self._trouble = trouble
        self._runners: dict[str, TargetRunner] = {}
        # The final state of each stopped target, so its counters stay readable after a stop.
        self._last_state: dict[str, TargetState] = {}
        self._lock = asyncio.Lock()
        self._frames = FrameThread(own_thread=frame_thread, realtime_priority=frame_priority)

    # -- queries -----------------------------------------------------------------------------

    def runner(self, target_id: str) -> TargetRunner | None:
        return self._runners.get(target_id)

    def is_running(self, target_id: str) -> bool:
        runner = self._runners.get(target_id)
        return runner is not None and runner.running

    def running_ids(self) -> list[str]:
        return [tid for tid, r in self._runners.items() if r.running]

    def state(self, target_id: str) -> TargetState:
        runner = self._runners.get(target_id)
        if runner is not None:
            return runner.state()
        if target_id in self._last_state:
            return self._last_state[target_id]
        entity = self._store.get("target", target_id)
        fps = entity.config.fps if entity is not None else 0
        return TargetState(
            target_id=target_id,
            running=False,
            status="stopped",
            fps=fps,
            fps_effective=float(fps),
            fps_limit_reason=None,
            fps_measured=0.0,
            frames_sent=0,
            frames_skipped=0,
            errors=0,
            last_error=None,
            late_ms_p99=None,
            device=None,
        )

    # -- start / stop ------------------------------------------------------------------------

    def _source_for(self, source_id: str) -> FrameSource:
        entity = self._store.get("source", source_id)
        if entity is None:
            raise EngineError(f"source {source_id} does not exist")
        config: SourceConfig = entity.config
        return build_source(config.kind, config.params)

    async def start(self, target_id: str) -> TargetState:
        """Start the target's frame loop and announce it through the entity hook, in the
        caller's context (a request's key, or `system` for auto-start); starting a running
        target changes nothing. Stops are announced by their callers: what a stop means
        (asked for, a deletion, a restore, shutdown) is theirs to say."""
        async with self._lock:
            was_running = self.is_running(target_id)
            state = await self._start(target_id)
        if not was_running:
            name = entity.name if (entity := self._store.get("target", target_id)) else None
            fire_entity_event(self._bus, "target", "started", target_id, entity_name=name)
        return state

    async def _start(self, target_id: str) -> TargetState:
        if self.is_running(target_id):
            return self._runners[target_id].state()
        target = self._store.get("target", target_id)
        if target is None:
            raise EngineError(f"target {target_id} does not exist")
        device = self._store.get("device", target.config.device_id)
        if device is None:
            raise EngineError(f"device {target.config.device_id} does not exist")
        for other in self._runners.values():
            if other.running and other.device_id == device.id:
                driving = self._store.get("target", other.target_id)
                raise EngineError(
                    f'device "{device.name}" is already driven by running target '
                    f'"{driving.name if driving else other.target_id}"; stop that one first'
                )
        source = self._source_for(target.config.source_id)
        driver = self._driver_factory(device.config, self._context)
        runner = TargetRunner(
            target_id,
            target.config,
            device.config,
            source,
            driver,
            self._bus,
            self._timings,
            on_trouble=self._trouble_of(target_id),
        )
        self._last_state.pop(target_id, None)
        self._runners[target_id] = runner
        await self._frames.run(runner.start)
        log.info("target %s (%s) started", target.name, target_id)
        return runner.state()

    def _trouble_of(self, target_id: str) -> Callable[[str | None], None] | None:
        listener = self._trouble
        if listener is None:
            return None
        server_loop = asyncio.get_running_loop()

        def note(reason: str | None) -> None:
            entity = self._store.get("target", target_id)
            name = entity.name if entity is not None else None
            if reason is None:
                listener.recovered(target_id, name)
            else:
                listener.failed(target_id, name, reason)

        if self._frames.on_this_thread():
            return note
        # The listener records activity entries, which belong to the server's loop.
        return lambda reason: server_loop.call_soon_threadsafe(note, reason)

    async def stop(self, target_id: str, reason: str = "stopped") -> TargetState:
        async with self._lock:
            return await self._stop(target_id, reason)

    def forget(self, target_id: str) -> None:
        """Drop what is remembered about a deleted target."""
        self._last_state.pop(target_id, None)

    async def _stop(self, target_id: str, reason: str, on_stop: str | None = None) -> TargetState:
        runner = self._runners.pop(target_id, None)
        if runner is not None:
            await self._frames.run(runner.stop, reason, on_stop=on_stop)
            if self._trouble is not None:
                self._trouble.forget(target_id)
            self._last_state[target_id] = runner.state()
            log.info("target %s stopped (%s)", target_id, reason)
        return self.state(target_id)

    async def resume(self) -> list[str]:
        """Start every auto_start target; one that fails is logged and recorded as an error
        entry, the others still start."""
        started = []
        for target in self._store.all("target"):
            if not target.config.auto_start or self.is_running(target.id):
                continue
            try:
                await self.start(target.id)
            except Exception as exc:
                log.error("auto-start of target %s failed: %s", target.name, exc)
                get_module_recorder().record(
                    "system",
                    "target.start_failed",
                    severity="error",
                    entity_type="target",
                    entity_id=target.id,
                    entity_name=target.name,
                    message=f'Target "{target.name}" did not start: {exc}',
                    metadata={"auto_start": True},
                )
                continue
            started.append(target.id)
        return started

    async def blackout(self) -> list[str]:
        """Stop every running target and leave its strip black, whatever its `on_stop`."""
        async with self._lock:
            stopped = self.running_ids()
            for target_id in stopped:
                await self._stop(target_id, "blackout", on_stop="black")
            return stopped

    async def preview_brightness(self, target_id: str, brightness: float) -> bool:
        """Apply a brightness to a running target without storing it (a slider being dragged;
        the value is stored, and recorded, when it is let go). False if it is not running."""
        async with self._lock:  # after a target or source change handed over before it
            runner = self._runners.get(target_id)
            if runner is None or not runner.running:
                return False

            def apply() -> None:  # the runner's config and source as they are on the frame loop
                config = msgspec.structs.replace(runner.config, brightness=brightness)
                runner.reconfigure(config, runner.source)

            await self._frames.run(apply)
            return True

    async def identify(self, device_id: str, seconds: float = 2.0) -> str:
        """Light the device's strip white for `seconds`, then restore it: a running target
        goes on with its frames; an idle device is opened, lit, blacked and closed (restoring
        its own state where the driver can). Returns the name of the target that drives it,
        or an empty string."""
        device = self._store.get("device", device_id)
        if device is None:
            raise EngineError(f"device {device_id} does not exist")
        white = _white(device.config)
        for runner in list(self._runners.values()):
            if runner.running and runner.device_id == device_id:
                self._frames.post(runner.flash, white, seconds)
                target = self._store.get("target", runner.target_id)
                return target.name if target is not None else runner.target_id
        await self._frames.run(self._light_idle, device.config, white, seconds)
        return ""

    async def _light_idle(self, device: DeviceConfig, white: bytes, seconds: float) -> None:
        driver = self._driver_factory(device, self._context)
        await driver.open()
        try:
            loop = asyncio.get_running_loop()
            until = loop.time() + seconds
            while loop.time() < until:  # repeated: network receivers fall back when frames stop
                driver.send(white)
                await asyncio.sleep(0.1)
            driver.send(bytes(len(white)))
        finally:
            await driver.close(restore=True)

    async def stop_all(self, reason: str = "shutdown") -> None:
        async with self._lock:
            await asyncio.gather(
                *(self._stop(tid, reason) for tid in list(self._runners)),
                return_exceptions=True,
            )

    async def run_on_frames(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        """`fn(*args)` on the frame loop, for the parts that live there with the runners (the
        capture hub's listeners are opened by the sources the runners render)."""
        if not self._frames.running:  # never started (or already closed): nothing lives there
            return fn(*args)
        return await self._frames.run(fn, *args)

    @property
    def pacer(self) -> FramePacer | None:
        """The frame pacer the network drivers hand their frames to, if there is one."""
        return self._context.pacer

    async def close(self) -> None:
        """After `stop_all()`: stop the frame pacer's process and the frame thread."""
        pacer = self._context.pacer
        if pacer is not None:
            await (self._frames.run(pacer.aclose) if self._frames.running else pacer.aclose())
        await self._frames.close()

    # -- entity changes ----------------------------------------------------------------------

    async def target_changed(self, target_id: str) -> None:
        """The target's settings changed: apply in place, or restart if its device changed."""
        async with self._lock:
            runner = self._runners.get(target_id)
            target = self._store.get("target", target_id)
            if runner is None or target is None:
                return
            if runner.device_id != target.config.device_id:
                await self._stop(target_id, "device changed")
                await self._start(target_id)
                return
            source = self._source_for(target.config.source_id)
            await self._frames.run(runner.reconfigure, target.config, source)

    async def source_changed(self, source_id: str) -> None:
        async with self._lock:
            for runner in list(self._runners.values()):
                if runner.config.source_id == source_id:
                    source = self._source_for(source_id)
                    await self._frames.run(runner.reconfigure, runner.config, source)

    async def device_changed(self, device_id: str) -> None:
        async with self._lock:
            for target_id, runner in list(self._runners.items()):
                if runner.device_id == device_id:
                    await self._stop(target_id, "device changed")
                    await self._start(target_id)
