"""The API-key guard for /api/v1: checks the key, sets `current_actor`, answers 401 otherwise
(late, past a few refusals a minute from one address: utils/address_budget.py)."""

from __future__ import annotations

import asyncio

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

from ledgrab.core.activity_log.context import ANONYMOUS, current_actor
from ledgrab.storage.api_keys import ApiKeyStore

__all__ = ["UNAUTHORIZED_DETAIL", "authenticate_connection", "presented_key", "require_api_key"]

UNAUTHORIZED_DETAIL = "Missing or invalid API key"


def presented_key(connection: ASGIConnection) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key`, if any."""
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return connection.headers.get("x-api-key") or None


async def authenticate_connection(connection: ASGIConnection, key: str | None) -> str | None:
    """The actor for `key` (None when refused); `anonymous` when authentication is off."""
    if not connection.app.state.settings.auth.enabled:
        return ANONYMOUS
    store: ApiKeyStore = connection.app.state.api_keys
    actor = await store.authenticate(key)
    if actor is None:
        address = connection.client.host if connection.client else None
        activity = getattr(connection.app.state, "activity", None)
        if key and activity is not None:  # coalesced per address: one entry a minute at most
            activity.auth_failures.note(address, key)
        if held_s := connection.app.state.refusals.held_s(address):
            await asyncio.sleep(held_s)
    return actor


async def require_api_key(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """Guard: async so that the ContextVar it sets stays visible to the handler that follows."""
    actor = await authenticate_connection(connection, presented_key(connection))
    if actor is None:
        raise NotAuthorizedException(UNAUTHORIZED_DETAIL)
    current_actor.set(actor)
