"""verify_database / verify_export: recompute the activity log's chain and check its anchors and
signed checkpoints; the result names the first seq that fails and why."""

from __future__ import annotations

import base64
import binascii
import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from ledgrab.core.activity_log.signing import NoteError, PublicKey, SignedNote, open_note
from ledgrab.storage import activity_chain as chain
from ledgrab.storage.activity_chain import entry_bytes

__all__ = ["Failure", "VerifyResult", "parse_checkpoint", "verify_database", "walk_chain"]

Progress = Callable[[int, int], None]


class Failure(msgspec.Struct, frozen=True):
    seq: int
    reason: str


class VerifyResult(msgspec.Struct):
    """What was proved. `failure` is the first problem found (None when everything held)."""

    ok: bool
    entries: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_chain: str | None = None
    anchored: str | None = None  # why the kept log starts where it does; None: not anchored
    signed_seq: int | None = None  # the newest entry covered by a valid signed checkpoint
    signed_at: str | None = None
    unsigned: int = 0  # entries after signed_seq
    keys: list[str] = []  # fingerprints of the keys whose signatures were checked
    failure: Failure | None = None
    notes: list[str] = []

    def summary(self) -> str:
        if self.failure is not None:
            return f"FAILED at seq {self.failure.seq}: {self.failure.reason}"
        if self.last_seq is None or self.first_seq is None or self.entries == 0:
            head = f"; chain goes on after #{self.last_seq}" if self.last_seq else ""
            return f"verified 0 entries (the log is empty{head})"
        text = f"verified {self.entries:,} entries, seq {self.first_seq}..{self.last_seq}, "
        text += f"anchored ({self.anchored})" if self.anchored else "start not anchored"
        if self.signed_seq == self.last_seq:
            text += f", head signed {self.signed_at}"
        elif self.signed_seq is not None:
            text += (
                f", signed up to #{self.signed_seq} at {self.signed_at}, "
                f"{self.unsigned:,} newer not yet signed"
            )
        else:
            text += ", no signed checkpoint"
        return text


class _Fail(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.failure = Failure(seq, reason)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64: {text[:60]!r}") from None


# -- the walk (shared by the database and the export) ------------------------------------------


def _diagnose(rows: Sequence[Sequence[Any]], i: int, prev: bytes) -> str:
    """Why row i does not hash to its stored value: reordered, or changed."""
    row = rows[i]
    if i + 1 < len(rows):
        after = rows[i + 1]
        swapped = hashlib.sha256(prev + row[0].to_bytes(8, "big") + entry_bytes(after[1:12]))
        digest = swapped.digest()
        if digest.startswith(after[12] or b"\xff") or digest.startswith(row[12] or b"\xff"):
            return f"order broken: entries #{row[0]} and #{after[0]} are swapped"
    if i > 0 and row[1] < rows[i - 1][1]:
        return "order broken: its id is older than the entry before it"
    return "content changed: the entry no longer hashes to its chain value"


def walk_chain(
    chunks: Iterable[Sequence[Sequence[Any]]],
    start: tuple[int, bytes],
    expected: dict[int, tuple[bytes, str]],
    between: Callable[[int], None] | None = None,
) -> tuple[int, int, bytes]:
    """Recompute the chain over rows (seq, 11 stored fields, stored chain value or a prefix of
    it) oldest first from `start` (seq, value); at each seq in `expected` the value must equal
    the one given there. Returns (entries, last seq, last value); raises _Fail."""
    seq, value = start
    count = 0
    sha256 = hashlib.sha256
    for rows in chunks:
        for i, row in enumerate(rows):
            if row[0] != seq + 1:
                if row[0] <= seq:
                    raise _Fail(row[0], f"order broken: #{row[0]} comes after #{seq}")
                raise _Fail(seq + 1, f"entry missing (the next entry held is #{row[0]})")
            seq = row[0]
            new = sha256(value + seq.to_bytes(8, "big") + entry_bytes(row[1:12])).digest()
            stored = row[12]
            if (
                not stored
                or len(stored) not in (chain.TAG, chain.FULL)
                or new[: len(stored)] != (stored)
            ):
                if not stored:
                    raise _Fail(seq, "no chain value stored for this entry")
                raise _Fail(seq, _diagnose(rows, i, value))
            if seq in expected and expected[seq][0] != new:
                raise _Fail(seq, f"the chain differs from {expected[seq][1]}")
            value = new
            count += 1
        if between is not None:
            between(count)
    return count, seq, value


# -- checkpoints ------------------------------------------------------------------------------


class Checkpoint(msgspec.Struct, frozen=True):
    origin: str
    seq: int
    chain: bytes
    time: str | None
    anchor: tuple[int, bytes] | None
    key: str  # fingerprint


def parse_checkpoint(note: SignedNote) -> Checkpoint:
    lines = note.lines
    if len(lines) < 3 or not lines[1].isdigit():
        raise ValueError("not a checkpoint: origin, seq and chain lines expected")
    time = anchor = None
    for line in lines[3:]:
        word, _, rest = line.partition(" ")
        if word == "time":
            time = rest
        elif word == "anchor":
            first, value = rest.split(" ")
            anchor = (int(first), _unb64(value, "the anchor's chain value"))
    value = _unb64(lines[2], "the checkpoint's chain value")
    return Checkpoint(lines[0], int(lines[1]), value, time, anchor, note.key.fingerprint)


def read_checkpoint(text: str, keys: list[PublicKey]) -> Checkpoint:
    """A checkpoint file kept elsewhere; ValueError (NoteError) when it does not verify."""
    return parse_checkpoint(open_note(text, keys))


def _external(
    given: Checkpoint, low: int, high: int | None, expected: dict, notes: list[str]
) -> None:
    top = high if high is not None else low - 1
    if given.seq > top:
        raise _Fail(
            top + 1,
            f"the log ends at #{top}, older than the checkpoint given (#{given.seq}, signed "
            f"{given.time}): entries were cut from the end",
        )
    if given.seq < low - 1:
        notes.append(f"the checkpoint given (#{given.seq}) predates the kept log")
    else:
        expected[given.seq] = (given.chain, f"the checkpoint given (signed {given.time})")


# -- a database file ---------------------------------------------------------------------------


def _connect(source: str | Path | sqlite3.Connection) -> tuple[sqlite3.Connection, bool]:
    if isinstance(source, sqlite3.Connection):
        return source, False
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no database at {path}")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    # One read transaction: the whole check sees one moment of a live log (a clear or a prune
    # committed meanwhile would otherwise look like a gap).
    conn.execute("BEGIN")
    return conn, True


def _trusted(conn: sqlite3.Connection, pinned: list[PublicKey] | None, extra) -> list[PublicKey]:
    if pinned:
        return list(pinned)
    stored = [PublicKey(o, bytes(k)) for o, k in conn.execute(
        "SELECT origin, public_key FROM activity_keys"
    )]  # fmt: skip
    return [*stored, *extra]


def verify_database(
    source: str | Path | sqlite3.Connection,
    *,
    keys: list[PublicKey] | None = None,
    extra_keys: Sequence[PublicKey] = (),
    checkpoint: str | None = None,
    progress: Progress | None = None,
    pause: Callable[[], None] | None = None,
    chunk: int = 10_000,
) -> VerifyResult:
    """Check a LedGrab database (live, a copy of the card, a backup file) without writing to it.

    `keys` pins the trusted public keys; without it the keys recorded in the file (and
    `extra_keys`) are trusted. `checkpoint` is a signed checkpoint kept elsewhere: the log must
    reach it and agree with it. `progress(done, total)` and `pause()` run between chunks.
    """
    conn, own = _connect(source)
    try:
        return _verify_conn(conn, keys, extra_keys, checkpoint, progress, pause, chunk)
    except _Fail as failed:
        return VerifyResult(ok=False, failure=failed.failure)
    finally:
        if own:
            conn.close()


def _verify_conn(conn, pinned, extra, checkpoint_text, progress, pause, chunk) -> VerifyResult:
    columns = [r[1] for r in conn.execute("PRAGMA table_info(activity_log)")]
    if "chain" not in columns:
        return VerifyResult(
            ok=False,
            failure=Failure(0, "this database has no chain yet (written before LedGrab chained "
                            "its log; a server started on it adds one)"),
        )  # fmt: skip
    trusted = _trusted(conn, pinned, extra)
    used: set[str] = set()
    anchors = conn.execute(
        "SELECT first_seq, prev_chain, removed, reason, ts, note FROM activity_anchors "
        "ORDER BY first_seq"
    ).fetchall()
    for first_seq, prev, removed, reason, _ts, note in anchors:
        _check_anchor(first_seq, prev, removed, reason, note, trusted, used)
    low, high = conn.execute("SELECT min(seq), max(seq) FROM activity_log").fetchone()
    if low is None:
        if not anchors:
            raise _Fail(1, "the log has neither entries nor an anchor")
        last = anchors[-1]
        low, start_value, anchored = last[0], bytes(last[1]), last[3]
    else:
        start = next((a for a in anchors if a[0] == low), None)
        if start is None:
            earlier = [a[0] for a in anchors if a[0] < low]
            if earlier:
                gone = earlier[-1]
                raise _Fail(gone, f"entry missing: the anchor at #{gone} starts the log there, "
                                  f"the oldest entry held is #{low}")  # fmt: skip
            raise _Fail(low, f"no signed anchor: entries before #{low} were removed unrecorded")
        start_value, anchored = bytes(start[1]), start[3]
        if anchored == "clear":
            action = conn.execute("SELECT action FROM activity_log WHERE seq = ?", (low,))
            if action.fetchone()[0] != "activity.cleared":
                raise _Fail(low, "the first entry after a clear anchor is not the clear's record")
    expected: dict[int, tuple[bytes, str]] = {}
    notes: list[str] = []
    signed = _stored_checkpoints(conn, trusted, used, low, high, start_value, expected)
    if checkpoint_text is not None:
        given = _read_given(checkpoint_text, trusted)
        used.add(given.key)
        _external(given, low, high, expected, notes)
    total = 0 if high is None else high - low + 1

    def between(done: int) -> None:
        if progress is not None:
            progress(done, total)
        if pause is not None:
            pause()

    count, last_seq, last_value = walk_chain(
        chain.iter_rows(conn, low - 1, chunk), (low - 1, start_value), expected, between
    )
    signed_seq, signed_at = signed if signed else (None, None)
    return VerifyResult(
        ok=True,
        entries=count,
        first_seq=low if count else None,
        last_seq=last_seq,
        head_chain=_b64(last_value),
        anchored=anchored,
        signed_seq=signed_seq,
        signed_at=signed_at,
        unsigned=last_seq - max(signed_seq or 0, low - 1),
        keys=sorted(used),
        notes=notes,
    )


def _read_given(text: str, trusted: list[PublicKey]) -> Checkpoint:
    try:
        return read_checkpoint(text, trusted)
    except ValueError as exc:
        raise _Fail(0, f"the checkpoint given does not verify: {exc}") from None


def _check_anchor(first_seq, prev, removed, reason, note, trusted, used) -> None:
    if note is None:
        raise _Fail(first_seq, f"the anchor at #{first_seq} is not signed")
    try:
        opened = open_note(note, trusted)
    except NoteError as exc:
        raise _Fail(first_seq, f"the anchor at #{first_seq}: {exc}") from None
    lines = opened.lines
    if lines[1:4] != [f"anchor {first_seq}", _b64(bytes(prev)), f"removed {removed} {reason}"]:
        raise _Fail(first_seq, f"the anchor at #{first_seq} was altered: its row and its signed "
                               "text disagree")  # fmt: skip
    used.add(opened.key.fingerprint)


def _stored_checkpoints(conn, trusted, used, low, high, start_value, expected):
    """Check every stored checkpoint's signature and text; those inside the kept log become
    values the walk must meet. Returns (seq, time) of the newest, or None."""
    newest = None
    rows = conn.execute("SELECT seq, chain, note FROM activity_checkpoints ORDER BY seq")
    top = high if high is not None else low - 1
    for seq, value, note in rows.fetchall():
        try:
            found = parse_checkpoint(open_note(note, trusted))
        except ValueError as exc:
            raise _Fail(seq, f"the checkpoint at #{seq}: {exc}") from None
        if found.seq != seq or found.chain != bytes(value):
            raise _Fail(seq, f"the checkpoint at #{seq} was altered: its row and its signed "
                             "text disagree")  # fmt: skip
        used.add(found.key)
        if seq > top:
            raise _Fail(top + 1, f"the log ends at #{top} but a checkpoint signed at {found.time} "
                                 f"covers #{seq}: entries were cut from the end")  # fmt: skip
        if seq == low - 1 and found.chain != start_value:
            raise _Fail(low, "the anchor's chain value differs from the checkpoint at its seq")
        if seq >= low:
            expected[seq] = (found.chain, f"the checkpoint signed at {found.time}")
        newest = (seq, found.time)
    return newest
