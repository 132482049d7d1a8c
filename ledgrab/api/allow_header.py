"""The `Allow` header of the automatic OPTIONS answer, naming every method of the path.

Litestar 2.x builds that answer from the first handler registered for a path, before the others
join the route, so `OPTIONS /api/v1/devices` said `OPTIONS, POST` and left out GET.
"""

from __future__ import annotations

from litestar.routes import HTTPRoute
from litestar.types import Message, Scope

__all__ = ["fix_allow_header"]


async def fix_allow_header(message: Message, scope: Scope) -> None:
    """before_send hook: rewrite `Allow` on OPTIONS answers from the route's full method set."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    template = scope.get("path_template")
    route = next(
        (
            r
            for r in scope["app"].routes
            if isinstance(r, HTTPRoute) and template in (r.path, r.path_format)
        ),
        None,
    )
    if route is None:
        return
    allow = ", ".join(sorted(route.methods)).encode()
    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
    message["headers"] = [*headers, (b"allow", allow)]
