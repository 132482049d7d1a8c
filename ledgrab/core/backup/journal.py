"""note(): the one place backup, restore and recovery events go to the activity log (and log)."""

from __future__ import annotations

import logging
from typing import Any

from ledgrab.core.activity_log.recorder import get_module_recorder

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
    """Record a `system` activity entry (the actor comes from the request context, `system`
    outside one) and log the message; best-effort, never raises."""
    log.log(_LEVELS.get(severity, logging.CRITICAL), "%s", message)
    get_module_recorder().record(
        "system", action, severity=severity, message=message, metadata=metadata
    )
