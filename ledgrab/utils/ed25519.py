"""Ed25519 keys, signatures and their PKCS#8 PEM file form, through the OpenSSL libcrypto that
Python's ssl module has already mapped into the process.

Loading `cryptography` for the same four operations cost the server 6.6 MB of RSS; libcrypto is
there anyway (ssl links it), so calling it through ctypes costs next to nothing. Every OpenSSL
object made here is freed before the call returns.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import os
import ssl
from typing import Any

__all__ = [
    "PUBLIC_KEY_BYTES",
    "SEED_BYTES",
    "SIGNATURE_BYTES",
    "KeyFileError",
    "SigningKey",
    "verify",
]

SEED_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
_NID_ED25519 = 1087  # EVP_PKEY_ED25519 in OpenSSL's obj_mac.h
# PKCS#8 (RFC 8410) of an Ed25519 key without attributes or public key: SEQUENCE { version 0,
# AlgorithmIdentifier { 1.3.101.112 }, OCTET STRING { OCTET STRING { seed } } }.
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_PEM_BEGIN = b"-----BEGIN PRIVATE KEY-----"
_PEM_END = b"-----END PRIVATE KEY-----"


class KeyFileError(ValueError):
    """A private key file is not the PKCS#8 PEM of an Ed25519 key; the message names the file."""


def _mapped_libcrypto(maps_file: str = "/proc/self/maps") -> str:
    """The path of the libcrypto this process has mapped (ssl's), or RuntimeError."""
    with open(maps_file, encoding="utf-8", errors="replace") as maps:
        for line in maps:
            path = line.split(maxsplit=5)[-1].strip()
            if os.path.basename(path).startswith("libcrypto.so"):
                return path
    raise RuntimeError(
        f"the activity log signs with Ed25519 through OpenSSL's libcrypto, but none is loaded "
        f"in this process although the ssl module is ({ssl.OPENSSL_VERSION}); a Python whose "
        f"ssl module links OpenSSL 1.1.1 or newer as a shared library is needed"
    )


def _bind(path: str) -> Any:
    lib = ctypes.CDLL(path)  # already mapped: dlopen only takes another reference
    p, size, buf = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p
    signatures = {
        "EVP_PKEY_new_raw_private_key": (p, [ctypes.c_int, p, buf, size]),
        "EVP_PKEY_new_raw_public_key": (p, [ctypes.c_int, p, buf, size]),
        "EVP_PKEY_get_raw_public_key": (ctypes.c_int, [p, buf, ctypes.POINTER(size)]),
        "EVP_PKEY_free": (None, [p]),
        "EVP_MD_CTX_new": (p, []),
        "EVP_MD_CTX_free": (None, [p]),
        "EVP_DigestSignInit": (ctypes.c_int, [p, p, p, p, p]),
        "EVP_DigestSign": (ctypes.c_int, [p, buf, ctypes.POINTER(size), buf, size]),
        "EVP_DigestVerifyInit": (ctypes.c_int, [p, p, p, p, p]),
        "EVP_DigestVerify": (ctypes.c_int, [p, buf, size, buf, size]),
        "ERR_clear_error": (None, []),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


_LIB = _bind(_mapped_libcrypto())


def _failed(what: str) -> RuntimeError:
    _LIB.ERR_clear_error()  # leave OpenSSL's per-thread error queue empty for the ssl module
    return RuntimeError(f"OpenSSL could not {what}")


def _pkey(public: bool, raw: bytes) -> int:
    make = _LIB.EVP_PKEY_new_raw_public_key if public else _LIB.EVP_PKEY_new_raw_private_key
    pkey = make(_NID_ED25519, None, raw, len(raw))
    if not pkey:
        raise _failed("make an Ed25519 key")
    return pkey


def _with_context(pkey: int, init: Any, what: str, use: Any) -> Any:
    """Run `use(ctx)` on a digest context initialised for `pkey`; frees both."""
    ctx = _LIB.EVP_MD_CTX_new()
    try:
        if not ctx or init(ctx, None, None, None, pkey) != 1:
            raise _failed(what)
        return use(ctx)
    finally:
        _LIB.EVP_MD_CTX_free(ctx)
        _LIB.EVP_PKEY_free(pkey)


class SigningKey:
    """An Ed25519 private key held as its 32-byte seed (RFC 8032), with its public key."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            raise ValueError(f"an Ed25519 seed is {SEED_BYTES} bytes, not {len(seed)}")
        self._seed = bytes(seed)
        pkey = _pkey(False, self._seed)
        try:
            out, length = ctypes.create_string_buffer(PUBLIC_KEY_BYTES), ctypes.c_size_t(32)
            if _LIB.EVP_PKEY_get_raw_public_key(pkey, out, ctypes.byref(length)) != 1:
                raise _failed("derive the Ed25519 public key")
        finally:
            _LIB.EVP_PKEY_free(pkey)
        self.public = out.raw[: length.value]

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(os.urandom(SEED_BYTES))

    @classmethod
    def from_pem(cls, pem: bytes, source: str | os.PathLike[str]) -> SigningKey:
        """The key of a PKCS#8 PEM file as `to_pem` writes it; KeyFileError naming `source`."""
        lines = pem.strip().split(b"\n")
        if len(lines) < 3 or lines[0].strip() != _PEM_BEGIN or lines[-1].strip() != _PEM_END:
            raise KeyFileError(f"{source} is not a PEM private key ('{_PEM_BEGIN.decode()}')")
        try:
            der = base64.b64decode(b"".join(line.strip() for line in lines[1:-1]), validate=True)
        except binascii.Error:
            raise KeyFileError(f"{source}: the PEM body is not base64") from None
        if len(der) != len(_PKCS8_PREFIX) + SEED_BYTES or not der.startswith(_PKCS8_PREFIX):
            raise KeyFileError(f"{source} does not hold an Ed25519 private key (PKCS#8)")
        return cls(der[len(_PKCS8_PREFIX) :])

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM, the same bytes `cryptography` writes for this key."""
        body = base64.b64encode(_PKCS8_PREFIX + self._seed)
        return _PEM_BEGIN + b"\n" + body + b"\n" + _PEM_END + b"\n"

    def sign(self, message: bytes) -> bytes:
        out, length = ctypes.create_string_buffer(SIGNATURE_BYTES), ctypes.c_size_t(64)

        def digest_sign(ctx: int) -> bytes:
            if _LIB.EVP_DigestSign(ctx, out, ctypes.byref(length), message, len(message)) != 1:
                raise _failed("sign with Ed25519")
            return out.raw[: length.value]

        return _with_context(
            _pkey(False, self._seed), _LIB.EVP_DigestSignInit, "sign with Ed25519", digest_sign
        )


def verify(public: bytes, signature: bytes, message: bytes) -> bool:
    """True when `signature` is `public`'s Ed25519 signature of `message`."""
    if len(public) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False

    def digest_verify(ctx: int) -> bool:
        good = _LIB.EVP_DigestVerify(ctx, signature, len(signature), message, len(message)) == 1
        _LIB.ERR_clear_error()  # a bad signature leaves an error entry behind
        return good

    try:
        pkey = _pkey(True, public)
    except RuntimeError:  # not a point on the curve
        return False
    return _with_context(pkey, _LIB.EVP_DigestVerifyInit, "verify with Ed25519", digest_verify)
