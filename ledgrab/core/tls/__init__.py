"""HTTPS for the device: its own certificate, the user's, renewal, the plain-HTTP redirect."""

from ledgrab.core.tls.certificate import fingerprint, fingerprint_of_pem
from ledgrab.core.tls.service import TlsConfigError, TlsService

__all__ = ["TlsConfigError", "TlsService", "fingerprint", "fingerprint_of_pem"]
