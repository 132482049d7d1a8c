"""Migration 5 chains a log written before the chain and anchors where it starts; the code
reproduces the documented test vectors."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
from pathlib import Path

from ledgrab.core.activity_log.chain_setup import register_device_key
from ledgrab.core.activity_log.signing import DeviceKey
from ledgrab.core.activity_log.verify import verify_database
from ledgrab.storage import activity_chain as chain
from ledgrab.storage.data_migrations import MIGRATIONS, migrate
from ledgrab.utils import ed25519

ROOT = Path(__file__).resolve().parents[2]


def test_an_existing_log_is_chained_and_anchored_by_the_migration(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, [m for m in MIGRATIONS if m.version <= 4])
    rows = [(f"{i:020x}", 10**15 + i, "system", "x.y", "info", "admin", f"old {i}", None, None,
             None, f'{{"i":{i}}}') for i in range(1, 301)]  # fmt: skip
    conn.executemany(
        f"INSERT INTO activity_log ({chain.ENTRY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
    )
    conn.execute("DELETE FROM activity_log WHERE seq <= 40")  # retention before the chain
    assert migrate(conn, MIGRATIONS)[0] == 5
    anchor = conn.execute("SELECT first_seq, prev_chain, removed, reason FROM activity_anchors")
    assert anchor.fetchall() == [(41, bytes(32), 40, "migration")]
    stored = conn.execute("SELECT seq, length(chain) FROM activity_log ORDER BY seq").fetchall()
    assert [s for s, _ in stored] == list(range(41, 301))
    # full values on the head and every 256th seq, 16-byte prefixes elsewhere
    assert [s for s, n in stored if n == 32] == [256, 300]
    assert {n for _, n in stored} == {16, 32}
    conn.close()
    # Unsigned until a server starts with its key: the verifier does not accept that.
    assert verify_database(path).failure.reason == "the anchor at #41 is not signed"
    (tmp_path / "data").mkdir()
    key = DeviceKey.load_or_create(tmp_path / "data")
    conn = sqlite3.connect(path, isolation_level=None)
    register_device_key(conn, key)
    conn.close()
    result = verify_database(path, keys=[key.public])
    assert result.ok, result.summary()
    assert (result.first_seq, result.last_seq, result.anchored) == (41, 300, "migration")


def test_the_code_reproduces_the_documented_vectors():
    text = (ROOT / "docs" / "activity-log-chain.md").read_text()
    vectors = json.loads(re.search(r"```json test-vectors\n(.*?)\n```", text, re.S).group(1))
    value = base64.b64decode(vectors["prev_chain"])
    for entry in vectors["entries"]:
        value = chain.next_chain(value, entry["seq"], entry["fields"])
        assert base64.b64encode(value).decode() == entry["chain"]
    seed = hashlib.sha256(b"ledgrab test vector key").digest()
    assert seed.hex() == vectors["key"]["private_seed_hex"]
    key = DeviceKey(ed25519.SigningKey(seed), ROOT, created=False)
    body = vectors["checkpoint"].partition("\n\n")[0] + "\n"
    assert key.sign_note(body) == vectors["checkpoint"]  # Ed25519 signatures are deterministic
