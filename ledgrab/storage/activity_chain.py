"""The activity log's hash chain: canonical entry bytes, chain values, anchors and checkpoints.

chain(seq) = SHA-256(chain(seq - 1) ‖ seq as 8 bytes big-endian ‖ entry_bytes(entry)), starting
from 32 zero bytes before seq 1 (docs/activity-log-chain.md is the full specification).

Flash: a full 32-byte chain value on every row cost 13 % more bytes written per entry
(flash_writes.py, 100 entries/s, 5 s commits: 643 instead of 568). The `chain` column therefore
holds the full value only on the last row of each write batch (the head, which the next batch
continues from) and on every 256th seq, and the value's first 16 bytes on every other row:
still enough to name the exact entry that was changed; any full value is recomputed from the
nearest full one, at most 255 rows back.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import msgspec

from ledgrab.storage.data_migrations import run_script

__all__ = [
    "ANCHOR_KEEP",
    "CHECKPOINT_KEEP",
    "ENTRY_COLUMNS",
    "FULL",
    "GENESIS",
    "TAG",
    "Signer",
    "anchor_body",
    "append_rows",
    "chain_values",
    "checkpoint_body",
    "create_chain_schema",
    "entries_after",
    "entry_bytes",
    "full_chain_at",
    "head",
    "iter_rows",
    "latest_checkpoint",
    "newest_anchor",
    "next_chain",
    "note_time",
    "register_key",
    "sign_pending_anchors",
    "store_checkpoint",
    "write_anchor",
]

FULL = 32
TAG = 16
GENESIS = bytes(FULL)
# Every this-many seqs a row keeps its full value too (+16 bytes per 256 entries), so a full
# value is never recomputed from further back than this, whatever the batch sizes were.
FULL_EVERY = 256
# Bounded tables: a checkpoint per checkpoint_interval_s, an anchor per pruning commit.
CHECKPOINT_KEEP = 64
ANCHOR_KEEP = 256
# The row's 11 entry fields, as stored (ts in microseconds, metadata as its JSON text).
ENTRY_COLUMNS = (
    "id, ts, category, action, severity, actor, message, entity_type, entity_id, entity_name, "
    "metadata"
)
_INSERT = (
    f"INSERT INTO activity_log (seq, {ENTRY_COLUMNS}, chain) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_pack = msgspec.msgpack.Encoder().encode
_sha256 = hashlib.sha256


class Signer(Protocol):
    """The device key as the storage layer sees it."""

    origin: str

    def sign_note(self, body: str) -> str:
        """The signed note: `body` (lines ending in a newline), a blank line, the signature."""


def create_chain_schema(conn: sqlite3.Connection) -> None:
    """Migration 5: the chain column, anchors, checkpoints and keys; the existing rows are
    chained (oldest first) and the start of the chain is anchored."""
    run_script(
        conn,
        """
        ALTER TABLE activity_log ADD COLUMN chain BLOB;
        -- What was removed from the old end: the first seq kept (or the next to be written) and
        -- the chain value before it. `note` is the signed text (NULL until a key signs it).
        CREATE TABLE activity_anchors (
            first_seq INTEGER PRIMARY KEY,
            prev_chain BLOB NOT NULL,
            removed INTEGER NOT NULL,
            reason TEXT NOT NULL,
            ts INTEGER NOT NULL,
            note TEXT
        );
        CREATE TABLE activity_checkpoints (
            seq INTEGER PRIMARY KEY,
            chain BLOB NOT NULL,
            ts INTEGER NOT NULL,
            note TEXT NOT NULL
        );
        -- Public keys that signed this log (the private key never enters the database).
        CREATE TABLE activity_keys (
            key_id TEXT PRIMARY KEY,
            origin TEXT NOT NULL,
            public_key BLOB NOT NULL,
            added INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
    )
    low = conn.execute("SELECT min(seq) FROM activity_log").fetchone()[0]
    first = 1 if low is None else low
    reason = "start" if first == 1 else "migration"
    ts = int(time.time() * 1_000_000)
    conn.execute(
        "INSERT INTO activity_anchors VALUES (?, ?, ?, ?, ?, NULL)",
        (first, GENESIS, first - 1, reason, ts),
    )
    # Keyset chunks, each read whole before its rows are updated: no statement reads the
    # table while another changes it.
    value, seq = GENESIS, 0
    while True:
        rows = conn.execute(
            f"SELECT seq, {ENTRY_COLUMNS} FROM activity_log WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, 10_000),
        ).fetchall()
        if not rows:
            break
        updates = []
        for row in rows:
            value = next_chain(value, row[0], row[1:])
            updates.append((value if not row[0] % FULL_EVERY else value[:TAG], row[0]))
        seq = rows[-1][0]
        conn.executemany("UPDATE activity_log SET chain = ? WHERE seq = ?", updates)
    if seq:
        conn.execute("UPDATE activity_log SET chain = ? WHERE seq = ?", (value, seq))


# -- the chain itself ---------------------------------------------------------------------------


def entry_bytes(fields: Sequence[Any]) -> bytes:
    """The canonical bytes of one entry: its 11 stored fields (ts as integer microseconds,
    metadata as its JSON text) as a MessagePack array, each value in its shortest form.

    MessagePack rather than a hand-made framing: msgspec builds it in C, which halved the
    writer's hashing time per entry (2.4 -> 1.1 us) and with it what the chain adds to
    record()'s cost on the event loop (the writer holds the GIL while it hashes)."""
    return _pack(fields)


def next_chain(prev: bytes, seq: int, fields: Sequence[Any]) -> bytes:
    return _sha256(prev + seq.to_bytes(8, "big") + entry_bytes(fields)).digest()


def newest_anchor(conn: sqlite3.Connection) -> tuple | None:
    """(first_seq, prev_chain, removed, reason, ts, note) of the newest anchor."""
    return conn.execute(
        "SELECT first_seq, prev_chain, removed, reason, ts, note FROM activity_anchors "
        "ORDER BY first_seq DESC LIMIT 1"
    ).fetchone()


def head(conn: sqlite3.Connection) -> tuple[int, bytes]:
    """(newest seq, its full chain value): the last row, else the newest anchor (the log was
    emptied: the chain goes on from where it stood), else the genesis (0, zeros)."""
    row = conn.execute("SELECT seq, chain FROM activity_log ORDER BY seq DESC LIMIT 1").fetchone()
    if row is not None:
        return row[0], row[1] if len(row[1] or b"") == FULL else full_chain_at(conn, row[0])
    anchor = newest_anchor(conn)
    return (0, GENESIS) if anchor is None else (anchor[0] - 1, anchor[1])


def _base_at_or_before(conn: sqlite3.Connection, seq: int) -> tuple[int, bytes]:
    """The nearest full chain value at or before `seq`: a head row or an anchor."""
    row = conn.execute(
        "SELECT seq, chain FROM activity_log WHERE seq <= ? AND length(chain) = ? "
        "ORDER BY seq DESC LIMIT 1",
        (seq, FULL),
    ).fetchone()
    anchor = conn.execute(
        "SELECT first_seq - 1, prev_chain FROM activity_anchors WHERE first_seq - 1 <= ? "
        "ORDER BY first_seq DESC LIMIT 1",
        (seq,),
    ).fetchone()
    candidates = [c for c in (row, anchor) if c is not None]
    return max(candidates, key=lambda c: c[0]) if candidates else (0, GENESIS)


def chain_values(conn: sqlite3.Connection, low: int, high: int) -> dict[int, bytes]:
    """Full chain values of the rows low..high, recomputed from the nearest full value (at most
    FULL_EVERY - 1 rows back). For export and forwarding, which carry full values."""
    base_seq, chain = _base_at_or_before(conn, low - 1)
    values: dict[int, bytes] = {}
    rows = conn.execute(
        f"SELECT seq, {ENTRY_COLUMNS} FROM activity_log WHERE seq > ? AND seq <= ? ORDER BY seq",
        (base_seq, high),
    )
    for row in rows:
        chain = next_chain(chain, row[0], row[1:])
        if row[0] >= low:
            values[row[0]] = chain
    return values


def full_chain_at(conn: sqlite3.Connection, seq: int) -> bytes:
    if seq <= 0:
        return GENESIS
    base_seq, chain = _base_at_or_before(conn, seq)
    return chain if base_seq == seq else chain_values(conn, seq, seq).get(seq, chain)


def append_rows(
    conn: sqlite3.Connection,
    rows: Iterable[Sequence[Any]],
    after: tuple[int, bytes] | None = None,
) -> tuple[int, bytes]:
    """Insert entries (11 stored fields each) after the head (`after`, read if not given) with
    their seqs and chain values, inside the writer's transaction; return the new head."""
    seq, chain = after if after is not None else head(conn)
    out = []
    for row in rows:
        seq += 1
        chain = next_chain(chain, seq, row)
        out.append([seq, *row, chain if not seq % FULL_EVERY else chain[:TAG]])
    if out:
        out[-1][-1] = chain  # the head keeps its full value: the next batch starts from it
        conn.executemany(_INSERT, out)
    return seq, chain


def entries_after(conn: sqlite3.Connection, seq: int, limit: int) -> list[tuple]:
    """Up to `limit` stored rows with seq > `seq`, oldest first, as (seq, 11 stored fields...,
    full chain value): what a forwarder sends, each entry with the value that proves it."""
    rows = conn.execute(
        f"SELECT seq, {ENTRY_COLUMNS} FROM activity_log WHERE seq > ? ORDER BY seq LIMIT ?",
        (seq, limit),
    ).fetchall()
    if not rows:
        return []
    values = chain_values(conn, rows[0][0], rows[-1][0])
    return [(*row, values[row[0]]) for row in rows]


# -- anchors and checkpoints -------------------------------------------------------------------


def anchor_body(
    origin: str, first_seq: int, prev: bytes, removed: int, reason: str, ts: str
) -> str:
    """The signed text of an anchor (see docs/activity-log-chain.md)."""
    return f"{origin}\nanchor {first_seq}\n{_b64(prev)}\nremoved {removed} {reason}\ntime {ts}\n"


def checkpoint_body(
    origin: str, seq: int, chain: bytes, ts: str, anchor: tuple[int, bytes] | None
) -> str:
    """The signed text of a checkpoint: tlog-checkpoint's three lines, then extensions."""
    body = f"{origin}\n{seq}\n{_b64(chain)}\ntime {ts}\n"
    if anchor is not None:
        body += f"anchor {anchor[0]} {_b64(anchor[1])}\n"
    return body


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_anchor(
    conn: sqlite3.Connection,
    first_seq: int,
    prev: bytes,
    removed: int,
    reason: str,
    ts_us: int,
    signer: Signer | None,
) -> None:
    """Record (and sign, when a key is there) that the entries before `first_seq` are gone; a
    second anchor at the same seq (an empty log cleared again) adds to the first."""
    old = conn.execute(
        "SELECT removed FROM activity_anchors WHERE first_seq = ?", (first_seq,)
    ).fetchone()
    if old is not None:
        removed += old[0]
    note = _anchor_note(signer, first_seq, prev, removed, reason, ts_us)
    conn.execute(
        "INSERT OR REPLACE INTO activity_anchors VALUES (?, ?, ?, ?, ?, ?)",
        (first_seq, prev, removed, reason, ts_us, note),
    )
    conn.execute(
        "DELETE FROM activity_anchors WHERE first_seq < (SELECT first_seq FROM activity_anchors "
        "ORDER BY first_seq DESC LIMIT 1 OFFSET ?)",
        (ANCHOR_KEEP - 1,),
    )


def note_time(ts_us: int) -> str:
    """RFC 3339 UTC with microseconds: the form of every `time` line."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _anchor_note(signer, first_seq, prev, removed, reason, ts_us) -> str | None:
    if signer is None:
        return None
    body = anchor_body(signer.origin, first_seq, prev, removed, reason, note_time(ts_us))
    return signer.sign_note(body)


def sign_pending_anchors(conn: sqlite3.Connection, signer: Signer) -> int:
    """Sign the anchors written without a key (the migration's); return how many."""
    pending = conn.execute(
        "SELECT first_seq, prev_chain, removed, reason, ts FROM activity_anchors WHERE note IS NULL"
    ).fetchall()
    for first_seq, prev, removed, reason, ts in pending:
        note = _anchor_note(signer, first_seq, prev, removed, reason, ts)
        conn.execute("UPDATE activity_anchors SET note = ? WHERE first_seq = ?", (note, first_seq))
    return len(pending)


def register_key(
    conn: sqlite3.Connection, key_id: str, origin: str, public_key: bytes, ts_us: int
) -> bool:
    """Remember a public key that signs this log; False if it was known already."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO activity_keys VALUES (?, ?, ?, ?)",
        (key_id, origin, public_key, ts_us),
    )
    return cursor.rowcount > 0


def store_checkpoint(
    conn: sqlite3.Connection, seq: int, chain: bytes, ts_us: int, note: str
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO activity_checkpoints VALUES (?, ?, ?, ?)", (seq, chain, ts_us, note)
    )
    conn.execute(
        "DELETE FROM activity_checkpoints WHERE seq < (SELECT seq FROM activity_checkpoints "
        "ORDER BY seq DESC LIMIT 1 OFFSET ?)",
        (CHECKPOINT_KEEP - 1,),
    )


def latest_checkpoint(conn: sqlite3.Connection) -> tuple[int, bytes, int, str] | None:
    """(seq, chain, ts_us, note) of the newest checkpoint."""
    return conn.execute(
        "SELECT seq, chain, ts, note FROM activity_checkpoints ORDER BY seq DESC LIMIT 1"
    ).fetchone()


def iter_rows(conn: sqlite3.Connection, after: int = 0, chunk: int = 10_000) -> Iterator[list]:
    """Every row (seq, 11 fields, stored chain) oldest first, `chunk` rows per read."""
    while True:
        rows = conn.execute(
            f"SELECT seq, {ENTRY_COLUMNS}, chain FROM activity_log WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (after, chunk),
        ).fetchall()
        if not rows:
            return
        yield rows
        after = rows[-1][0]
