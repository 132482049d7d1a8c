"""Ed25519 through the process's libcrypto (ledgrab.utils.ed25519): the RFC 8032 vectors,
byte-for-byte agreement with `cryptography` (the library it replaced), rejection of what is not a
signature, and the key file the previous code wrote."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledgrab.core.activity_log.signing import KEY_FILE, DeviceKey, open_note
from ledgrab.utils import ed25519

# RFC 8032 section 7.1, TEST 1 and TEST 2: (secret key, public key, message, signature).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


def _old_pem(private: Ed25519PrivateKey) -> bytes:
    """The key file as the code before ledgrab.utils.ed25519 wrote it."""
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_the_rfc_8032_vectors(secret, public, message, signature):
    key = ed25519.SigningKey(bytes.fromhex(secret))
    assert key.public.hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    assert ed25519.verify(key.public, bytes.fromhex(signature), bytes.fromhex(message))


@pytest.mark.parametrize("length", [0, 1, 63, 1000, 70_000])
def test_signatures_and_key_files_equal_those_of_cryptography(length):
    seed, message = os.urandom(32), os.urandom(length)
    theirs = Ed25519PrivateKey.from_private_bytes(seed)
    ours = ed25519.SigningKey(seed)
    assert ours.sign(message) == theirs.sign(message)
    assert ours.public == theirs.public_key().public_bytes_raw()
    assert ours.to_pem() == _old_pem(theirs)
    theirs.public_key().verify(ours.sign(message), message)  # raises if it does not verify


def test_verify_rejects_a_flipped_bit_a_wrong_key_and_a_short_signature():
    key, other = ed25519.SigningKey.generate(), ed25519.SigningKey.generate()
    message = b"checkpoint 42"
    signature = key.sign(message)
    assert ed25519.verify(key.public, signature, message)
    for bit in (0, 255, 511):
        flipped = bytearray(signature)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert not ed25519.verify(key.public, bytes(flipped), message)
    assert not ed25519.verify(key.public, signature, b"checkpoint 43")
    assert not ed25519.verify(other.public, signature, message)
    assert not ed25519.verify(key.public, signature[:63], message)
    assert not ed25519.verify(key.public, signature + b"\0", message)
    assert not ed25519.verify(key.public[:31], signature, message)
    assert not ed25519.verify(b"\xff" * 32, signature, message)  # not a point on the curve


def test_a_key_file_written_by_the_old_code_still_loads_and_signs_the_same(tmp_path):
    old = Ed25519PrivateKey.generate()
    (tmp_path / KEY_FILE).write_bytes(_old_pem(old))
    key = DeviceKey.load_or_create(tmp_path)
    assert not key.created
    assert key.public.raw == old.public_key().public_bytes_raw()
    note = key.sign_note("ledgrab/test\n7\nhash\n")
    signature = open_note(note, [key.public])  # verifies through libcrypto
    old.public_key().verify(_signature_of(note), signature.body.encode())


def _signature_of(note: str) -> bytes:
    return base64.b64decode(note.rstrip("\n").rsplit(" ", 1)[1])[4:]


def test_a_new_key_file_is_what_cryptography_reads(tmp_path):
    key = DeviceKey.load_or_create(tmp_path)
    assert key.created
    pem = (tmp_path / KEY_FILE).read_bytes()
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert loaded.public_key().public_bytes_raw() == key.public.raw
    assert DeviceKey.load_or_create(tmp_path).public == key.public


def test_without_a_mapped_libcrypto_the_start_stops_saying_why(tmp_path):
    maps = tmp_path / "maps"  # a process whose ssl module has OpenSSL linked in statically
    maps.write_text(
        "7f0000000000-7f0000001000 r-xp 00000000 08:01 42 /usr/lib/python3.11/_ssl.so\n"
        "7f0000002000-7f0000003000 rw-p 00000000 00:00 0\n"
    )
    with pytest.raises(RuntimeError, match="OpenSSL's libcrypto, but none is loaded"):
        ed25519._mapped_libcrypto(str(maps))
    assert Path(ed25519._mapped_libcrypto()).name.startswith("libcrypto.so")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is not a PEM private key"),
        (b"-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n", "not base64"),
        (  # a P-256 key: PKCS#8, but not Ed25519
            b"-----BEGIN PRIVATE KEY-----\n"
            b"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXU0dZ9MmmGTOnUby\n"
            b"-----END PRIVATE KEY-----\n",
            "does not hold an Ed25519 private key",
        ),
        (  # an Ed25519 prefix with a seed one byte short
            b"-----BEGIN PRIVATE KEY-----\n"
            b"MC4CAQAwBQYDK2VwBCIEIExIcT7UnM2EOSn4Rma73ypA1SGGJ+HzdCwJiRuiJt8=\n"
            b"-----END PRIVATE KEY-----\n",
            "does not hold an Ed25519 private key",
        ),
    ],
)
def test_a_malformed_key_file_is_refused_naming_the_file(tmp_path, content, says):
    path = tmp_path / KEY_FILE
    path.write_bytes(content)
    with pytest.raises(ValueError, match=says) as error:
        DeviceKey.load_or_create(tmp_path)
    assert str(path) in str(error.value)
    assert path.read_bytes() == content  # left as it was
