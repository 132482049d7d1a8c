"""hold_public_requests(app): requests to the routes that need no key (the web UI's files,
/health, the API reference) count against their address's budget and wait when it is spent.

Everything under /api/v1 needs a key and is counted by the guard instead, as a refusal, only
when its key is missing or wrong: an API client with a right key is never held. A browser
loading the UI asks for about 25 files, so the budget (`[auth] free_public_requests_per_minute`,
300) leaves room for a dozen reloads a minute per address.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Litestar

__all__ = ["API_PREFIX", "hold_public_requests"]

API_PREFIX = "/api/v1"  # the router that needs a key (app.py); everything else is public

Scope = dict[str, Any]


def hold_public_requests(app: Litestar) -> Any:
    """The ASGI app uvicorn serves: `app`, with each public request counted and held if due."""

    async def served(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(API_PREFIX):
            budget = getattr(app.state, "public_requests", None)  # set by the lifespan
            client = scope.get("client")
            if budget is not None and (held_s := budget.held_s(client[0] if client else None)):
                await asyncio.sleep(held_s)
        await app(scope, receive, send)

    return served
