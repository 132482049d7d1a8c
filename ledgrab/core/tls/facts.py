"""What the server keeps of a certificate (fingerprint, validity, names) and when it must be
renewed: plain values, so that the server never loads an X.509 library to hold or judge one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ledgrab.core.tls.host_names import HostNames

__all__ = ["CertificateFacts", "Ensured", "renewal_reason"]


@dataclass(frozen=True)
class CertificateFacts:
    fingerprint: str  # SHA-256 of the DER, upper-case hex pairs joined by ':'
    not_valid_before_utc: dt.datetime
    not_valid_after_utc: dt.datetime
    names: HostNames  # its subject alternative names

    def as_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "not_valid_before_utc": self.not_valid_before_utc.isoformat(),
            "not_valid_after_utc": self.not_valid_after_utc.isoformat(),
            "names": self.names.as_strings(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CertificateFacts:
        return cls(
            data["fingerprint"],
            dt.datetime.fromisoformat(data["not_valid_before_utc"]),
            dt.datetime.fromisoformat(data["not_valid_after_utc"]),
            HostNames.from_strings(**data["names"]),
        )


@dataclass(frozen=True)
class Ensured:
    """What ensure_self_signed found or made; a PEM field is None when its file stays as it is."""

    facts: CertificateFacts
    key_pem: bytes | None = None  # a new key (there was none)
    cert_pem: bytes | None = None  # a new certificate
    replaced: bool = False  # there was a certificate, now renewed
    reason: str | None = None  # why it was made


def renewal_reason(
    cert: CertificateFacts, names: HostNames, now: dt.datetime, renew_before: dt.timedelta
) -> str | None:
    """Why `cert` must be replaced now, or None: it expires within `renew_before`, is not valid
    yet, or does not name every current name and address."""
    expires = cert.not_valid_after_utc
    if expires - now <= renew_before:
        return f"it expires on {expires:%Y-%m-%d}"
    # Made while the clock was ahead (a board without a real-time clock, before NTP set it).
    if (starts := cert.not_valid_before_utc) > now:
        return f"it is not valid until {starts:%Y-%m-%d %H:%M} UTC"
    named = cert.names
    missing = [*sorted(set(names.dns) - set(named.dns)), *map(str, set(names.ips) - set(named.ips))]
    if missing:
        return f"it does not name {', '.join(missing)}"
    return None
