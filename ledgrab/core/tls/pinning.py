"""Fingerprints and the client side: trust one certificate, check a pin (standard library only)."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

__all__ = [
    "FingerprintMismatch",
    "check_pin",
    "colon_hex",
    "fingerprint_of_pem",
    "trusting_context",
]


class FingerprintMismatch(ssl.SSLError):
    """The server's certificate is not the one whose fingerprint the client holds."""


def colon_hex(digest: bytes) -> str:
    """A digest as browsers show a fingerprint: upper-case hex pairs joined by ':'."""
    return ":".join(f"{b:02X}" for b in digest)


def fingerprint_of_pem(pem: str) -> str:
    """SHA-256 fingerprint of the first certificate in PEM text."""
    return colon_hex(hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).digest())


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
