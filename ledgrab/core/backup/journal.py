"""note(): the one place backup, restore and recovery events go to the activity log (and log)."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["note"]

log = logging.getLogger("ledgrab.backup")
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def note(
    action: str,
    message: str,
    *,
    severity: str = "info",
    metadata: dict[str, Any] | None = None,
) -> None:
    """Record a `system` activity entry (the actor comes from the request context); best-effort."""
    log.log(_LEVELS.get(severity, logging.CRITICAL), "%s", message)
