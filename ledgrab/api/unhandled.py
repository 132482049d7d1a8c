"""after_exception hook: an exception no handler expected is logged with its traceback.

Litestar answers it with a 500 and, with logging left to us, would say nothing: a fault that
only the client saw. HTTP errors below 500 (bad input, 401, 404) are answers, not faults.
"""

from __future__ import annotations

import logging

from litestar.exceptions import HTTPException, WebSocketDisconnect
from litestar.types import Scope

__all__ = ["log_unhandled"]

log = logging.getLogger("ledgrab.api")


async def log_unhandled(exception: Exception, scope: Scope) -> None:
    if isinstance(exception, WebSocketDisconnect):
        return
    if isinstance(exception, HTTPException) and exception.status_code < 500:
        return
    path = scope.get("path", "?")
    log.error("unhandled %s on %r", type(exception).__name__, path, exc_info=exception)
