"""Client side: an SSL context that trusts exactly one server certificate, and a fingerprint pin."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

__all__ = ["FingerprintMismatch", "check_pin", "trusting_context"]


class FingerprintMismatch(ssl.SSLError):
    """The server's certificate is not the one whose fingerprint the client holds."""


def trusting_context(cert_file: Path | str) -> ssl.SSLContext:
    """Verifies the server against this one certificate (names checked too), nothing else."""
    return ssl.create_default_context(cafile=str(cert_file))


def check_pin(sock: ssl.SSLSocket, expected: str) -> None:
    """Raise FingerprintMismatch unless the peer's DER certificate has SHA-256 `expected`
    (hex, colons and case ignored). Call before sending anything secret over `sock`."""
    der = sock.getpeercert(binary_form=True)
    got = hashlib.sha256(der or b"").hexdigest()
    want = expected.replace(":", "").lower()
    if got != want:
        raise FingerprintMismatch(f"server certificate SHA-256 {got} is not the pinned {want}")
