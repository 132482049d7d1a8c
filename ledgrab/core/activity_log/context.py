"""The current actor: the API key's label in a request, `anonymous` without auth, else `system`."""

from contextvars import ContextVar

__all__ = ["ANONYMOUS", "SYSTEM", "current_actor"]

SYSTEM = "system"
ANONYMOUS = "anonymous"

current_actor: ContextVar[str] = ContextVar("ledgrab_current_actor", default=SYSTEM)
