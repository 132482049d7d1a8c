"""/api/v1/events/ws: the live event feed.

Browsers cannot set headers on a websocket, and a key in the URL would end up in access logs and
browser history. So a client either sends `Authorization`/`X-API-Key` headers (scripts) or, after
the socket opens, sends one first message `{"type": "auth", "key": "…", "types": [...]}` within
`[server] ws_auth_timeout_s`. Nothing is sent before authentication; a wrong key closes with code
4401, and so does revoking the key of an open feed. Sockets still waiting for their key are
bounded (`[server] ws_max_unauthenticated…`); past the bound a socket is closed with 1013.
Messages from a client are bounded by uvicorn (`[server] ws_max_message_bytes`, code 1009).
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from ledgrab import __version__
from ledgrab.api.auth import authenticate_connection, presented_key
from ledgrab.api.ws_feeds import AuthWaitingRoom, OpenFeeds
from ledgrab.core.event_bus import EventBus
from ledgrab.core.event_types import EVENT_TYPES
from ledgrab.storage.api_keys import key_digest

__all__ = ["CLOSE_TRY_AGAIN", "CLOSE_UNAUTHORIZED", "events_ws"]

CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_REQUEST = 4400
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later"
# The debug log is its own feature: a client gets it only when it asks for it by name.
DEFAULT_TYPES = EVENT_TYPES - {"log_record"}


class AuthMessage(msgspec.Struct, tag_field="type", tag="auth", forbid_unknown_fields=True):
    key: str | None = None
    types: list[str] | None = None


async def _first_message(socket: WebSocket, timeout_s: float) -> AuthMessage:
    raw = await asyncio.wait_for(socket.receive_data(mode="text"), timeout_s)
    return msgspec.json.decode(raw, type=AuthMessage)


async def _authenticate(socket: WebSocket) -> tuple[str, str | None, list[str] | None] | None:
    """(actor, key, types) once the client has shown a valid key; None after closing it."""
    header_key = presented_key(socket)
    types: list[str] | None = None
    try:
        if header_key is None:
            timeout_s = socket.app.state.settings.server.ws_auth_timeout_s
            message = await _first_message(socket, timeout_s)
            key, types = message.key, message.types
        else:
            key = header_key
    except (TimeoutError, msgspec.ValidationError, msgspec.DecodeError):
        await socket.close(code=CLOSE_UNAUTHORIZED, reason="send {type: auth, key} first")
        return None
    except WebSocketDisconnect:
        return None
    actor = await authenticate_connection(socket, key)
    if actor is None:
        await socket.close(code=CLOSE_UNAUTHORIZED, reason="invalid API key")
        return None
    return actor, key, types


@websocket("/api/v1/events/ws")
async def events_ws(socket: WebSocket) -> None:
    room: AuthWaitingRoom = socket.app.state.ws_waiting_room
    with room.enter(socket.client.host if socket.client else None) as admitted:
        await socket.accept()
        if not admitted:
            await socket.close(code=CLOSE_TRY_AGAIN, reason="too many sockets waiting for a key")
            return
        authenticated = await _authenticate(socket)
    if authenticated is None:
        return
    actor, key, types = authenticated
    bus: EventBus = socket.app.state.bus
    try:
        subscription = bus.subscribe(DEFAULT_TYPES if types is None else types)
    except ValueError as exc:
        await socket.close(code=CLOSE_BAD_REQUEST, reason=str(exc)[:120])
        return
    feeds: OpenFeeds = socket.app.state.feeds
    # With authentication off there is no key to revoke: the event is simply never set.
    auth_on = socket.app.state.settings.auth.enabled
    revoked = feeds.add(actor, key_digest(key)) if auth_on and key else asyncio.Event()
    try:
        hello = {"type": "hello", "actor": actor, "version": __version__}
        await socket.send_data(msgspec.json.encode(hello).decode(), mode="text")
        if await _pump(socket, subscription, revoked):
            with contextlib.suppress(WebSocketDisconnect, ConnectionError, RuntimeError):
                await socket.close(code=CLOSE_UNAUTHORIZED, reason="API key revoked")
    finally:
        feeds.remove(revoked)
        subscription.close()


async def _pump(socket: WebSocket, subscription, revoked: asyncio.Event) -> bool:
    """Send events until the client goes away (False) or its key is revoked (True)."""

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
    revocation = asyncio.create_task(revoked.wait())
    tasks = {reader, sender, revocation}
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done - {revocation}:
        if not task.cancelled() and (exc := task.exception()) and not _is_disconnect(exc):
            raise exc
    return revocation in done


def _is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, WebSocketDisconnect | ConnectionError) or "close" in str(exc).lower()
