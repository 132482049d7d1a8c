"""/api/v1/events/ws: the live event feed.

Browsers cannot set headers on a websocket, and a key in the URL would end up in access logs and
browser history. So a client either sends `Authorization`/`X-API-Key` headers (scripts) or, after
the socket opens, sends one first message `{"type": "auth", "key": "…", "types": [...]}` within
AUTH_TIMEOUT_S. Nothing is sent before authentication; a wrong key closes with code 4401.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from ledgrab import __version__
from ledgrab.api.auth import authenticate_connection, presented_key
from ledgrab.core.event_bus import EventBus
from ledgrab.core.event_types import EVENT_TYPES

__all__ = ["AUTH_TIMEOUT_S", "CLOSE_UNAUTHORIZED", "events_ws"]

AUTH_TIMEOUT_S = 10.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_REQUEST = 4400
# The debug log is its own feature: a client gets it only when it asks for it by name.
DEFAULT_TYPES = EVENT_TYPES - {"log_record"}


class AuthMessage(msgspec.Struct, tag_field="type", tag="auth", forbid_unknown_fields=True):
    key: str | None = None
    types: list[str] | None = None


async def _first_message(socket: WebSocket) -> AuthMessage:
    raw = await asyncio.wait_for(socket.receive_data(mode="text"), AUTH_TIMEOUT_S)
    return msgspec.json.decode(raw, type=AuthMessage)


@websocket("/api/v1/events/ws")
async def events_ws(socket: WebSocket) -> None:
    await socket.accept()
    header_key = presented_key(socket)
    types: list[str] | None = None
    try:
        if header_key is None:
            message = await _first_message(socket)
            key, types = message.key, message.types
        else:
            key = header_key
    except (TimeoutError, msgspec.ValidationError, msgspec.DecodeError):
        await socket.close(code=CLOSE_UNAUTHORIZED, reason="send {type: auth, key} first")
        return
    except WebSocketDisconnect:
        return
    actor = await authenticate_connection(socket, key)
    if actor is None:
        await socket.close(code=CLOSE_UNAUTHORIZED, reason="invalid API key")
        return
    bus: EventBus = socket.app.state.bus
    try:
        subscription = bus.subscribe(DEFAULT_TYPES if types is None else types)
    except ValueError as exc:
        await socket.close(code=CLOSE_BAD_REQUEST, reason=str(exc)[:120])
        return
    try:
        hello = {"type": "hello", "actor": actor, "version": __version__}
        await socket.send_data(msgspec.json.encode(hello).decode(), mode="text")
        await _pump(socket, subscription)
    finally:
        subscription.close()


async def _pump(socket: WebSocket, subscription) -> None:
    """Send events until the client goes away; a closed client is noticed by the reader task."""

    async def read_until_closed() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await socket.receive_data(mode="text")

    async def send_forever() -> None:
        while True:
            data = await subscription.get()
            await socket.send_data(data.decode(), mode="text")

    reader = asyncio.create_task(read_until_closed())
    sender = asyncio.create_task(send_forever())
    try:
        done, _pending = await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, sender):
            task.cancel()
        await asyncio.gather(reader, sender, return_exceptions=True)
    for task in done:
        if not task.cancelled() and (exc := task.exception()) and not _is_disconnect(exc):
            raise exc


def _is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, WebSocketDisconnect | ConnectionError) or "close" in str(exc).lower()
