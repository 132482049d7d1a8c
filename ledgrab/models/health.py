"""The health of one component, as /health reports it and each component describes itself."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["ComponentHealth"]


class ComponentHealth(msgspec.Struct):
    state: str  # "ok" or "degraded"
    reason: str | None = None
    details: dict[str, Any] = {}
