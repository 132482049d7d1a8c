"""The device's own certificate: an ECDSA P-256 key and a self-signed certificate naming the
host name, `<host>.local`, loopback and the board's addresses; fingerprints; when to renew."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

import ifaddr
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ledgrab.core.tls.pinning import colon_hex
from ledgrab.utils.files import write_durably

__all__ = [
    "HostNames",
    "current_host_names",
    "fingerprint",
    "load_certificate",
    "load_or_create_key",
    "make_self_signed",
    "renewal_reason",
    "write_private",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# 397 days: Safari and Chrome refuse longer-lived certificates from any issuer they trust, and a
# certificate renewed on time never comes near the limit.
VALID_DAYS = 397
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


@dataclass(frozen=True)
class HostNames:
    """The DNS names and IP addresses a certificate of this device must name (sorted, unique)."""

    dns: tuple[str, ...]
    ips: tuple[IPAddress, ...]

    @classmethod
    def of(cls, hostname: str, addresses: list[str]) -> HostNames:
        short = hostname.split(".")[0].lower() or "ledgrab"
        dns = {short, f"{short}.local", *LOOPBACK_NAMES}
        if "." in hostname:
            dns.add(hostname.lower())
        ips = set(LOOPBACK_ADDRESSES)
        for text in addresses:
            # A link-local IPv6 address carries its interface ("fe80::1%eth0"): browsers cannot
            # reach it by URL, and a certificate cannot name the zone.
            ip = ipaddress.ip_address(text.split("%")[0])
            if not ip.is_link_local:
                ips.add(ip)
        return cls(tuple(sorted(dns)), tuple(sorted(ips, key=lambda i: (i.version, int(i)))))

    @property
    def common_name(self) -> str:
        return next(n for n in self.dns if n.endswith(".local"))


def current_host_names() -> HostNames:
    """This machine's names and addresses now (ifaddr: every interface that is up)."""
    addresses: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            addresses.append(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
    return HostNames.of(socket.gethostname(), addresses)


def names_in(cert: x509.Certificate) -> HostNames:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return HostNames((), ())
    dns = tuple(sorted(san.get_values_for_type(x509.DNSName)))
    ips = tuple(sorted(san.get_values_for_type(x509.IPAddress), key=lambda i: (i.version, int(i))))
    return HostNames(dns, ips)


def load_or_create_key(path: Path) -> tuple[ec.EllipticCurvePrivateKey, bool]:
    """The key in `path`, or a new P-256 key written there with mode 0600; (key, created)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(path, pem)
        return key, True
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an EC key")
    return key, False


def make_self_signed(
    key: ec.EllipticCurvePrivateKey, names: HostNames, now: dt.datetime
) -> x509.Certificate:
    """A certificate for `names`, valid from an hour before `now` (clocks drift) for VALID_DAYS."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, names.common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LedGrab (made on this device)"),
        ]
    )
    alt = [x509.DNSName(n) for n in names.dns] + [x509.IPAddress(i) for i in names.ips]
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate in a PEM file (the leaf of a chain)."""
    return x509.load_pem_x509_certificate(path.read_bytes())


def renewal_reason(
    cert: x509.Certificate, names: HostNames, now: dt.datetime, renew_before: dt.timedelta
) -> str | None:
    """Why `cert` must be replaced now, or None: it expires within `renew_before`, is not valid
    yet, or does not name every current name and address."""
    expires = cert.not_valid_after_utc
    if expires - now <= renew_before:
        return f"it expires on {expires:%Y-%m-%d}"
    # Made while the clock was ahead (a board without a real-time clock, before NTP set it).
    if (starts := cert.not_valid_before_utc) > now:
        return f"it is not valid until {starts:%Y-%m-%d %H:%M} UTC"
    named = names_in(cert)
    missing = [*sorted(set(names.dns) - set(named.dns)), *map(str, set(names.ips) - set(named.ips))]
    if missing:
        return f"it does not name {', '.join(missing)}"
    return None


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate as browsers show it: upper-case hex pairs joined by ':'."""
    return colon_hex(cert.fingerprint(hashes.SHA256()))


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file of the TLS directory (itself 0700: the key's name is nobody's business)."""
    made_dir = not path.parent.exists()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        write_durably(path, data, mode)
    except OSError:
        if made_dir:  # a start that could not write its key leaves the data directory as it was
            with contextlib.suppress(OSError):
                path.parent.rmdir()
        raise
