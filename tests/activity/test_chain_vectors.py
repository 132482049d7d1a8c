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


def _field(value) -> bytes:
    if value is None:
        return b"\x00"
    data = value.encode("utf-8")
    return b"\x01" + len(data).to_bytes(4, "big") + data


def _canonical(fields: list) -> bytes:
    ts = fields[1].to_bytes(8, "big", signed=True)
    return _field(fields[0]) + ts + b"".join(_field(f) for f in fields[2:])


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
