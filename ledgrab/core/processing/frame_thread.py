"""FrameThread: an event loop on a thread of its own that runs every frame loop, driver and
capture input, so that a long step on the server's loop does not hold frames back.

The two loops still share one interpreter lock, but a thread that waits for it gets it within
the switch interval (set at start, see app.py), where a frame on the server's loop waited until
the step in progress was over (0.2-0.5 s for the first build of the OpenAPI document, which
the UI fetches). With `realtime_priority` the thread also asks for SCHED_FIFO, so a CPU kept
busy by the server's own work or by other processes is handed to it as soon as a frame is due.
`run()` is how the server's loop hands work over and awaits the answer; `post()` hands over a
call without waiting. Everything else crosses through thread-safe parts:
the event bus, and the trouble listener, which the engine posts back to the server's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FrameThread"]

_JOIN_TIMEOUT_S = 10.0

log = logging.getLogger(__name__)


class FrameThread:
    """Starts on first use from a running loop (the new loop is of the same kind: uvloop when the
    server runs on uvloop); `close()` cancels what is left on it and joins the thread. With
    `own_thread=False` every call runs on the caller's loop (the `[engine] frame_thread = false`
    setting, kept to measure the difference)."""

    def __init__(
        self, *, own_thread: bool = True, name: str = "ledgrab-frames", realtime_priority: int = 0
    ) -> None:
        self._own_thread = own_thread
        self._name = name
        self._realtime_priority = realtime_priority
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the frame thread is not running")
        return self._loop

    @property
    def running(self) -> bool:
        """Whether a thread of its own serves the frame loop now."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None or not self._own_thread:
            return
        loop = type(asyncio.get_running_loop())()

        def serve() -> None:
            _name_native_thread(self._name)
            if self._realtime_priority:
                _ask_for_realtime(self._realtime_priority)
            asyncio.set_event_loop(loop)
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name=self._name, daemon=True)
        # Calls handed over before run_forever() begins wait in the loop's queue.
        self._thread.start()

    def on_this_thread(self) -> bool:
        if not self._own_thread:
            return True
        return self._thread is not None and threading.current_thread() is self._thread

    async def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` on the frame loop (awaited there if it returns a coroutine);
        its result or exception comes back to the caller's loop."""

        async def call() -> Any:
            result = fn(*args, **kwargs)
            return await result if asyncio.iscoroutine(result) else result

        if self.on_this_thread():
            return await call()
        self.start()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self.loop))

    def post(self, fn: Callable[..., None], /, *args: Any) -> None:
        """`fn(*args)` on the frame loop soon; the caller does not wait for it."""
        if self.on_this_thread():
            fn(*args)
        else:
            self.start()
            self.loop.call_soon_threadsafe(fn, *args)

    async def close(self) -> None:
        """Cancel the tasks still on the frame loop, stop it and join the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return

        async def wind_down() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await loop.shutdown_asyncgens()
            await loop.shutdown_default_executor()  # the drivers' to_thread workers
            loop.call_soon(loop.stop)

        if thread.is_alive():
            asyncio.run_coroutine_threadsafe(wind_down(), loop)
            await asyncio.to_thread(thread.join, _JOIN_TIMEOUT_S)
        self._thread = self._loop = None


def _name_native_thread(name: str) -> None:
    """Give the calling thread `name` in the kernel too (15 bytes at most), so that `top -H`,
    `ps -L` and /proc/<pid>/task/<tid>/comm show which thread is the frame thread."""
    with contextlib.suppress(OSError):
        Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text(name[:15])


def _ask_for_realtime(priority: int) -> None:
    """Put the calling thread (alone: Linux keeps the policy per thread) under SCHED_FIFO at
    `priority`; threads it starts later (the drivers' write workers) inherit it. Refused, the
    thread keeps the normal policy and one warning says how to grant it."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, AttributeError) as exc:  # AttributeError: not Linux
        log.warning(
            "the frame thread runs at normal priority: real-time priority %d was refused (%s); "
            "a systemd unit grants it with LimitRTPRIO=%d (the shipped unit grants 1, the "
            "default)",
            priority,
            exc,
            priority,
        )
        return
    log.info("the frame thread runs under SCHED_FIFO at priority %d", priority)
