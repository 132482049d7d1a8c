"""chain_state: what `GET /activity/chain` shows (head, anchor, latest checkpoint, signing key)."""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

import msgspec

from ledgrab.storage import activity_chain as chain
from ledgrab.storage.activity_chain import note_time

__all__ = ["ChainState", "chain_state"]


class ChainHead(msgspec.Struct):
    seq: int
    chain: str  # base64 of the 32-byte value


class ChainAnchor(msgspec.Struct):
    first_seq: int
    prev_chain: str
    removed: int
    reason: str
    time: str
    signed: bool


class ChainCheckpoint(msgspec.Struct):
    seq: int
    chain: str
    time: str


class ChainState(msgspec.Struct):
    algorithm: str
    origin: str | None
    public_key: str | None  # `<origin> <base64 key>`, as in activity-key.pub
    fingerprint: str | None  # SHA-256 of the raw public key, hex
    head: ChainHead
    first_seq: int | None  # the oldest entry kept
    anchor: ChainAnchor | None
    checkpoint: ChainCheckpoint | None
    checkpoint_interval_s: float


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def chain_state(conn: sqlite3.Connection, key: Any, settings: Any) -> ChainState:
    seq, value = chain.head(conn)
    first = conn.execute("SELECT seq FROM activity_log ORDER BY seq LIMIT 1").fetchone()
    anchor = chain.newest_anchor(conn)
    latest = chain.latest_checkpoint(conn)
    return ChainState(
        algorithm="sha256-chain+ed25519",
        origin=key.origin if key is not None else None,
        public_key=key.public.line if key is not None else None,
        fingerprint=key.public.fingerprint if key is not None else None,
        head=ChainHead(seq, _b64(value)),
        first_seq=first and first[0],
        anchor=anchor
        and ChainAnchor(
            anchor[0], _b64(anchor[1]), anchor[2], anchor[3], note_time(anchor[4]), bool(anchor[5])
        ),
        checkpoint=latest and ChainCheckpoint(latest[0], _b64(latest[1]), note_time(latest[2])),
        checkpoint_interval_s=settings.checkpoint_interval_s,
    )
