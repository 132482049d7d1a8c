"""The `capture` source kind: frames received over DDP or E1.31, with a fallback when idle.

Sources of the same params share one input (so two targets can show one stream). The input
opens on the first render, sized to the strip; a port that cannot open raises CaptureBindError
from render, which the frame loop reports as the target's error and retries with backoff.
`close()` releases the input; the hub is installed once by the app (`set_capture_hub`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from ledgrab.core.effects.base import FrameSource, fit_frame
from ledgrab.core.effects.capture_input import CaptureInput
from ledgrab.core.effects.capture_packets import DDP_DEFAULT_PORT, E131_DEFAULT_PORT
from ledgrab.core.effects.capture_receiver import CaptureBindError, CaptureHub
from ledgrab.core.effects.registry import (
    SourceKind,
    build_source,
    register_source_kind,
)
from ledgrab.models.effects import CaptureParams

__all__ = [
    "MAX_LEDS",
    "CaptureParams",
    "CaptureSource",
    "capture_input_for",
    "get_capture_hub",
    "port_of",
    "same_stream",
    "set_capture_hub",
]

MAX_LEDS = 4096
RELEASE_GRACE_S = 1.0


Describe = Callable[[CaptureParams], tuple[str | None, str | None]]
_describe: Describe | None = None
_hub: CaptureHub | None = None
_defaults = {"ddp": DDP_DEFAULT_PORT, "e131": E131_DEFAULT_PORT}
# key -> [input, users]; sources with equal receive params share one input.
_shared: dict[tuple, list[Any]] = {}
_shared_lock = threading.Lock()


def set_capture_hub(
    hub: CaptureHub | None,
    *,
    ddp_port: int = DDP_DEFAULT_PORT,
    e131_port: int = E131_DEFAULT_PORT,
    describe: Describe | None = None,
) -> None:
    """Install the app's hub, default ports and a params -> (source id, name) lookup for the
    capture events (the lifespan does this), or remove them with None."""
    global _hub, _describe
    _hub, _describe = hub, describe
    _defaults.update(ddp=ddp_port, e131=e131_port)
    if hub is None:
        _shared.clear()


def get_capture_hub() -> CaptureHub | None:
    return _hub


def port_of(params: CaptureParams) -> int:
    """The UDP port a capture source listens on (its own, or the protocol's configured one)."""
    return params.port or _defaults[params.protocol]


def _stream(params: CaptureParams) -> tuple:
    """What identifies a stream: protocol, port, and for E1.31 the universe layout."""
    port = port_of(params)
    universe = (params.universe, params.universe_size) if params.protocol == "e131" else None
    return (params.protocol, port, universe, params.timeout_s)


def same_stream(other: CaptureParams, params: CaptureParams) -> bool:
    """Whether two capture sources' params describe the same stream."""
    return _stream(other) == _stream(params)


def capture_input_for(params: CaptureParams) -> CaptureInput | None:
    """The open input of a capture source with these params, if a running target opened it."""
    stream = _stream(params)
    with _shared_lock:
        for key, (target, _users) in _shared.items():
            if key[:4] == stream:
                return target
    return None


def _release(key: tuple) -> None:
    with _shared_lock:
        entry = _shared.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _shared[key]
    if _hub is not None:
        _hub.close_input(entry[0])


class CaptureSource:
    def __init__(self, params: CaptureParams) -> None:
        self.params = params
        self._key: tuple | None = None
        self._input: CaptureInput | None = None
        self._fallback: FrameSource | None = None
        self._watchers: list[Callable[[], None]] = []
        self._detach: Callable[[], None] | None = None
        if params.fallback == "effect":
            effect = params.fallback_effect
            self._fallback = build_source(effect.__struct_config__.tag, effect.params)

    def render(self, t: float, led_count: int) -> bytes | bytearray:
        target = self._input or self._open(led_count)
        if target.live or self.params.fallback == "hold":
            return fit_frame(target.frame(), led_count)
        if self._fallback is not None:
            return self._fallback.render(t, led_count)
        return bytes(led_count * 3)

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` on the loop whenever a complete frame arrives (for a target that
        sends it at once instead of at its next tick); returns the detach."""
        self._watchers.append(callback)
        return lambda: self._watchers.remove(callback) if callback in self._watchers else None

    def _notify(self) -> None:
        for callback in tuple(self._watchers):
            callback()

    def close(self) -> None:
        """Release the shared input; the last user closes it (and maybe its UDP listener).

        The release waits RELEASE_GRACE_S: an edited target or source builds a new source that
        opens the same stream on its first frame, and the stream then carries on unbroken.
        """
        detach, self._detach = self._detach, None
        if detach is not None:
            detach()
        key, self._key, self._input = self._key, None, None
        if key is None:
            return
        try:
            asyncio.get_running_loop().call_later(RELEASE_GRACE_S, _release, key)
        except RuntimeError:  # no loop (shutdown, a unit test): release at once
            _release(key)

    def _open(self, led_count: int) -> CaptureInput:
        if _hub is None:
            raise CaptureBindError("capture input is not available (the capture hub is not set)")
        key = (*_stream(self.params), min(led_count, MAX_LEDS))
        with _shared_lock:
            entry = _shared.get(key)
            if entry is not None:
                entry[1] += 1
        if entry is None:
            source_id, source_name = _describe(self.params) if _describe else (None, None)
            target = _hub.open_input(
                source_id=source_id,
                source_name=source_name,
                protocol=self.params.protocol,
                port=key[1],
                led_count=key[4],
                timeout_s=self.params.timeout_s,
                universe=self.params.universe,
                universe_size=self.params.universe_size,
            )
            entry = [target, 1]
            with _shared_lock:
                _shared[key] = entry
        self._key, self._input = key, entry[0]
        self._detach = entry[0].add_listener(self._notify)
        return entry[0]


register_source_kind(
    SourceKind("capture", CaptureParams, CaptureSource, "frames streamed in over DDP or E1.31")
)
