"""The frame loops run on a thread of their own: a server loop busy with a request does not stop
the LEDs; the handover passes results, errors and cancellations; nothing is left at shutdown."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ledgrab.core.processing.frame_thread import FrameThread
from tests.support.live_server import LiveServer, wait_for

BUSY_S = 0.5


def _running_target(live: LiveServer, fps: int = 60):
    with live.client() as c:
        device = c.post(
            "/api/v1/devices", json={"type": "virtual", "name": "strip", "led_count": 30}
        ).json()
        source = c.post("/api/v1/sources", json={"name": "s", "kind": "rainbow"}).json()
        body = {"name": "t", "device_id": device["id"], "source_id": source["id"], "fps": fps}
        target = c.post("/api/v1/targets", json=body).json()
        assert c.post(f"/api/v1/targets/{target['id']}/start").status_code == 200
    runner = live.app.state.engine.runner(target["id"])
    wait_for(lambda: runner.frames_sent > 0, what="a first frame")
    return runner


def _frames_while_the_server_loop_is_busy(live: LiveServer, runner) -> int:
    """Occupy the server's loop with pure-Python work for BUSY_S (as a long request step does)
    and count the frames the target sent meanwhile."""
    server_loop = live.app.state.bus._loop
    counted: list[int] = []

    def occupy() -> None:
        before = runner.frames_sent
        until = time.monotonic() + BUSY_S
        while time.monotonic() < until:
            pass
        counted.append(runner.frames_sent - before)

    server_loop.call_soon_threadsafe(occupy)
    wait_for(lambda: counted, what="the busy stretch to end")
    return counted[0]


def test_frames_go_on_while_the_server_loop_is_busy(tmp_path):
    with LiveServer(tmp_path / "data", demo_on_first_start=False) as live:
        runner = _running_target(live)
        frames_thread = [t for t in threading.enumerate() if t.name == "ledgrab-frames"]
        assert len(frames_thread) == 1
        # 30 frames are due in the busy half second; a few suffice to show they were not held.
        assert _frames_while_the_server_loop_is_busy(live, runner) >= 5
    assert not [t for t in threading.enumerate() if t.name == "ledgrab-frames"]


def test_without_the_frame_thread_a_busy_server_loop_stops_the_frames(tmp_path):
    """The setting kept for measuring: frames on the server's loop wait for every request step."""
    data = tmp_path / "data"
    with LiveServer(data, demo_on_first_start=False, engine={"frame_thread": False}) as live:
        runner = _running_target(live)
        assert not [t for t in threading.enumerate() if t.name == "ledgrab-frames"]
        assert _frames_while_the_server_loop_is_busy(live, runner) == 0


def test_a_call_handed_over_runs_on_the_frame_thread_and_answers_the_caller():
    async def scenario() -> None:
        frames = FrameThread()
        try:
            assert await frames.run(lambda: threading.current_thread().name) == "ledgrab-frames"

            async def on_frames(x: int) -> tuple[int, bool]:
                await asyncio.sleep(0)
                return x * 2, frames.on_this_thread()

            assert await frames.run(on_frames, 21) == (42, True)
            with pytest.raises(ValueError, match="bad value"):
                await frames.run(_raise, "bad value")
            seen: list[str] = []
            frames.post(lambda: seen.append(threading.current_thread().name))
            await frames.run(lambda: None)  # runs after the post: one queue, in order
            assert seen == ["ledgrab-frames"]
        finally:
            await frames.close()

    asyncio.run(scenario())
    assert not [t for t in threading.enumerate() if t.name == "ledgrab-frames"]


def test_closing_cancels_what_is_still_running_on_the_frame_thread():
    async def scenario() -> bool:
        frames = FrameThread()
        ended = threading.Event()

        async def forever() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                ended.set()

        await frames.run(lambda: asyncio.get_running_loop().create_task(forever()))
        await frames.close()
        return ended.is_set()

    assert asyncio.run(scenario())


def test_a_caller_that_gives_up_cancels_the_call_on_the_frame_thread():
    async def scenario() -> bool:
        frames = FrameThread()
        started, cancelled = threading.Event(), threading.Event()

        async def slow() -> None:
            started.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        waiting = asyncio.ensure_future(frames.run(slow))
        await asyncio.to_thread(started.wait, 10)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.to_thread(cancelled.wait, 10)
        await frames.close()
        return cancelled.is_set()

    assert asyncio.run(scenario())


def _raise(message: str) -> None:
    raise ValueError(message)


def test_a_brightness_preview_during_a_source_change_is_applied_after_it(tmp_path):
    """A preview acknowledged while a change is on its way to the frame loop is applied after
    the change, to the new source: it neither brings back the old source nor is undone."""
    with LiveServer(tmp_path / "data", demo_on_first_start=False) as live, live.client() as c:
        runner = _running_target(live)
        target_id = runner.target_id
        red = c.post(
            "/api/v1/sources",
            json={"name": "red", "kind": "static", "params": {"color": "#ff0000"}},
        ).json()
        gate = threading.Event()
        held = threading.Event()

        def hold() -> None:  # busy, not blocked: the guard fails blocking calls on a loop
            held.set()
            until = time.monotonic() + 10
            while not gate.is_set() and time.monotonic() < until:
                pass

        live.app.state.engine._frames.post(hold)  # the frame loop stands still until the gate
        assert held.wait(10)
        answers: dict[str, int] = {}

        def call(name: str, method: str, path: str, body: dict) -> None:
            with live.client() as h:
                answers[name] = h.request(method, path, json=body).status_code

        change = threading.Thread(
            target=call,
            args=("change", "PATCH", f"/api/v1/targets/{target_id}", {"source_id": red["id"]}),
        )
        change.start()
        time.sleep(0.3)  # ordering only: the change reaches the engine first
        preview = threading.Thread(
            target=call,
            args=("preview", "POST", f"/api/v1/targets/{target_id}/brightness-preview",
                  {"brightness": 0.5}),
        )  # fmt: skip
        preview.start()
        time.sleep(0.3)
        gate.set()
        change.join(30)
        preview.join(30)
        assert answers == {"change": 200, "preview": 200}
        wait_for(
            lambda: runner.last_rendered[:3] == b"\xff\x00\x00", what="the new source's frames"
        )
        time.sleep(0.1)  # a stale reconfigure, if any, would have run by now
        assert runner.config.source_id == red["id"]
        assert runner.last_rendered[:3] == b"\xff\x00\x00"
        assert runner.config.brightness == 0.5
