"""The device's own certificate: an ECDSA P-256 key and a self-signed certificate naming the
host name, `<host>.local`, loopback and the board's addresses.

This module loads `cryptography`: only the certificate child process (`certificate_worker`)
imports it, never the server.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ledgrab.core.tls.facts import CertificateFacts, Ensured, renewal_reason
from ledgrab.core.tls.host_names import HostNames, sorted_ips
from ledgrab.core.tls.pinning import colon_hex

__all__ = [
    "VALID_DAYS",
    "ensure_self_signed",
    "facts_of",
    "facts_of_pem",
    "load_key",
    "make_self_signed",
]

# 397 days: Safari and Chrome refuse longer-lived certificates from any issuer they trust, and a
# certificate renewed on time never comes near the limit.
VALID_DAYS = 397


def load_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """The EC key of a PEM file; ValueError saying what it is otherwise."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"it holds a {type(key).__name__}, not an EC key")
    return key


def _pem_of_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


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


def facts_of(cert: x509.Certificate) -> CertificateFacts:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = HostNames((), ())
    else:
        names = HostNames(
            tuple(sorted(san.get_values_for_type(x509.DNSName))),
            sorted_ips(san.get_values_for_type(x509.IPAddress)),
        )
    return CertificateFacts(
        colon_hex(cert.fingerprint(hashes.SHA256())),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        names,
    )


def facts_of_pem(pem: bytes) -> CertificateFacts:
    """The facts of the first certificate in a PEM file (the leaf of a chain); ValueError."""
    return facts_of(x509.load_pem_x509_certificate(pem))


def ensure_self_signed(
    key_pem: bytes | None,
    cert_pem: bytes | None,
    names: HostNames,
    now: dt.datetime,
    renew_before: dt.timedelta,
    key_path: str,
) -> Ensured:
    """Keep the certificate when it is the key's and needs no renewal, else make one (and a key
    when there is none); ValueError when the key cannot be used."""
    if key_pem is None:
        key = ec.generate_private_key(ec.SECP256R1())
        new_key_pem = _pem_of_key(key)
    else:
        key, new_key_pem = load_key(key_pem), None
    cert, reason = None, "there was none"
    if cert_pem is not None:
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError:
            cert = None
    if cert is not None:
        if cert.public_key() != key.public_key():
            reason = f"it was not made for the key in {key_path}"
        else:
            facts = facts_of(cert)
            reason = renewal_reason(facts, names, now, renew_before)
            if reason is None:
                return Ensured(facts, new_key_pem)
    new = make_self_signed(key, names, now)
    pem = new.public_bytes(serialization.Encoding.PEM)
    return Ensured(facts_of(new), new_key_pem, pem, cert is not None, reason)
