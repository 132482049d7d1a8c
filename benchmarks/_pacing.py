"""How long a server's network frames have gone through its frame pacer, from /health."""

from __future__ import annotations

import httpx

__all__ = ["paced_seconds", "paced_share"]


def paced_seconds(http: httpx.Client) -> float | None:
    """Seconds paced on demand since the server started (None: `pacing = "always"`)."""
    details = http.get("/health").json()["components"]["frame_pacer"]["details"]
    return 0.0 if not details["send_ahead_ms"] else details["paced_s"]


def paced_share(before: float | None, after: float | None, seconds: float) -> float:
    """The percentage of a window of `seconds` between two `paced_seconds()` readings."""
    if before is None or after is None:
        return 100.0
    return min(100.0, 100 * (after - before) / seconds)
