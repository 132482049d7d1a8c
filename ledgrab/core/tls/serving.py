"""What `ledgrab serve` (and the test servers) do with TLS before binding: prepare, announce."""

from __future__ import annotations

from pathlib import Path

from ledgrab.config import Settings
from ledgrab.core.tls.service import TlsService

__all__ = ["FINGERPRINT_LINE", "banner", "prepare_tls"]

FINGERPRINT_LINE = "TLS certificate SHA-256 fingerprint: "


def prepare_tls(settings: Settings) -> TlsService:
    """A TlsService with its certificate made or loaded; raises TlsConfigError (exit 2)."""
    tls = TlsService(settings.server, Path(settings.data_dir))
    tls.prepare_blocking()
    return tls


def banner(tls: TlsService) -> str:
    """The line printed under "serving on …": the fingerprint to compare in the browser."""
    if not tls.enabled:
        return 'TLS is off ([server] tls = "off"): only safe behind a proxy that adds HTTPS'
    return f"{FINGERPRINT_LINE}{tls.fingerprint}"
