"""The test vectors in docs/activity-log-chain.md, checked by a second implementation written
from the specification alone: hashlib and cryptography, nothing imported from ledgrab."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DOC = Path(__file__).resolve().parents[2] / "docs" / "activity-log-chain.md"


def _vectors() -> dict:
    block = re.search(r"```json test-vectors\n(.*?)\n```", DOC.read_text(), re.S)
    assert block is not None, "no test-vectors block in the doc"
    return json.loads(block.group(1))


def _msgpack(value) -> bytes:
    """The three MessagePack types an entry uses, each in its shortest form."""
    if value is None:
        return b"\xc0"
    if isinstance(value, int):
        if 0 <= value < 128:
            return bytes([value])
        for tag, size in ((0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)):
            if 0 <= value < 1 << (8 * size):
                return bytes([tag]) + value.to_bytes(size, "big")
        raise AssertionError("negative times are not in the vectors")
    data = value.encode("utf-8")
    n = len(data)
    if n < 32:
        return bytes([0xA0 + n]) + data
    for tag, size in ((0xD9, 1), (0xDA, 2), (0xDB, 4)):
        if n < 1 << (8 * size):
            return bytes([tag]) + n.to_bytes(size, "big") + data
    raise AssertionError("string too long")


def _canonical(fields: list) -> bytes:
    assert len(fields) == 11
    return b"\x9b" + b"".join(_msgpack(f) for f in fields)


def test_the_chain_values_follow_from_the_spec():
    vectors = _vectors()
    value = base64.b64decode(vectors["prev_chain"])
    assert vectors["entries"][0]["seq"] == vectors["prev_seq"] + 1
    for entry in vectors["entries"]:
        data = _canonical(entry["fields"])
        if "canonical_hex" in entry:
            assert data.hex() == entry["canonical_hex"]
        value = hashlib.sha256(value + entry["seq"].to_bytes(8, "big") + data).digest()
        assert base64.b64encode(value).decode() == entry["chain"]


def test_the_checkpoint_is_signed_by_the_published_test_key():
    vectors = _vectors()
    key = vectors["key"]
    seed = bytes.fromhex(key["private_seed_hex"])
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    assert base64.b64encode(public).decode() == key["public_key"]
    key_id = hashlib.sha256(key["origin"].encode() + b"\n\x01" + public).digest()[:4]
    assert key_id.hex() == key["key_id_hex"]

    body, _, signatures = vectors["checkpoint"].partition("\n\n")
    origin, size, root, *extensions = body.split("\n")
    assert origin == key["origin"]
    assert int(size) == vectors["entries"][-1]["seq"]
    assert root == vectors["entries"][-1]["chain"]
    assert f"anchor {vectors['prev_seq'] + 1} {vectors['prev_chain']}" in extensions
    dash, name, blob = signatures.strip().split(" ")
    assert (dash, name) == ("\u2014", key["origin"])
    raw = base64.b64decode(blob)
    assert raw[:4] == key_id
    # raises InvalidSignature if the note was not signed by the key over exactly these bytes
    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], (body + "\n").encode())
