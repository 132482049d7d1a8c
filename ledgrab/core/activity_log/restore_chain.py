"""The activity log's part of a restore: verify the uploaded file's chain before it is accepted,
and record, once it is live, what did not verify (a forced restore) and the head it replaced.

Self-contained on purpose: the restore path calls `check_restore_chain` on the staged file and
`record_restore_chain` after the swap, and nothing else of it depends on the chain.
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import msgspec

from ledgrab.core.activity_log.recorder import get_module_recorder
from ledgrab.core.activity_log.signing import PUBLIC_KEY_FILE, PublicKey, parse_public_key
from ledgrab.core.activity_log.verify import VerifyResult, verify_database
from ledgrab.storage import activity_chain as chain

__all__ = [
    "ChainBroken",
    "ChainCheck",
    "check_restore_chain",
    "head_of",
    "record_restore_chain",
]


class ChainCheck(msgspec.Struct, frozen=True):
    """What the restore check found: `failure` is None when the chain verified (or the file
    predates the chain)."""

    failure: str | None
    summary: str


class ChainBroken(ValueError):
    """The uploaded file's chain does not verify; the message names the seq and why."""


def _has_chain(path: Path) -> bool:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        return "chain" in [r[1] for r in conn.execute("PRAGMA table_info(activity_log)")]
    finally:
        conn.close()


def head_of(database: Path) -> tuple[int, str] | None:
    """The chain head (seq, base64 value) of a database file no one is writing (during the
    swap, its WAL folded in and closed), or None without a chain. `immutable`: a reader of a
    WAL file would otherwise leave a -wal and -shm beside it."""
    if not database.exists() or not _has_chain(database):
        return None
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        seq, value = chain.head(conn)
    finally:
        conn.close()
    return seq, base64.b64encode(value).decode()


def _own_keys(live: Path) -> list[PublicKey]:
    own = live.parent / PUBLIC_KEY_FILE
    return [parse_public_key(own.read_text())] if own.exists() else []


def check_restore_chain(staged: Path, live: Path, *, force: bool) -> ChainCheck:
    """Verify `staged` (the keys it records and this device's key are trusted: a backup from
    another device verifies with its own keys). Broken: raise ChainBroken, unless `force`."""
    if not _has_chain(staged):
        return ChainCheck(None, "the backup predates the chain: it is chained when restored")
    result: VerifyResult = verify_database(staged, extra_keys=_own_keys(live))
    if result.failure is not None and not force:
        raise ChainBroken(
            f"its activity log does not verify at seq {result.failure.seq}: "
            f"{result.failure.reason} (POST /api/v1/system/restore?force=true accepts it anyway, "
            "recorded as a critical entry)"
        )
    return ChainCheck(None if result.failure is None else result.summary(), result.summary())


def record_restore_chain(
    check: ChainCheck, source_name: str, replaced: tuple[int, str] | None
) -> None:
    """The first entries of the restored log (call it while the file is being swapped, when
    nothing else can be committed): the head that was replaced, and (forced) what did not
    verify, as a `critical` entry."""
    recorder = get_module_recorder()
    if replaced is not None:
        seq, value = replaced
        recorder.record(
            "system",
            "restore.replaced_chain",
            message=f"Restoring {source_name} replaced the activity log whose head was #{seq}",
            metadata={"replaced_seq": seq, "replaced_chain": value},
        )
    if check.failure is not None:
        recorder.record(
            "system",
            "restore.unverified",
            severity="critical",
            message=f"{source_name} was restored by force although its activity log did not "
            f"verify: {check.failure}",
            metadata={"file": source_name, "failure": check.failure},
        )
