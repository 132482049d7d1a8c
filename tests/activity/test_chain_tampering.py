"""Every tampering with a chained log is found, and the first seq that fails is named."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from ledgrab.core.activity_log.signing import DeviceKey
from ledgrab.core.activity_log.verify import verify_database
from ledgrab.storage import activity_chain as chain
from tests.activity.chain_helpers import build_signed_log, checkpoint_note, sql


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    return build_signed_log(tmp_path_factory.mktemp("signed"))


@pytest.fixture
def log(signed, tmp_path):
    """A fresh copy of the signed log for each tampering."""
    source, key = signed
    copy = tmp_path / "ledgrab.db"
    copy.write_bytes(source.read_bytes())
    return copy, key


def _failure(path, **kwargs):
    result = verify_database(path, **kwargs)
    assert not result.ok and result.failure is not None, result.summary()
    return result.failure


def test_the_untouched_log_verifies_anchored_and_signed(log):
    path, key = log
    result = verify_database(path, keys=[key.public])
    assert result.ok, result.summary()
    assert (result.entries, result.first_seq, result.last_seq) == (300, 1, 300)
    assert result.anchored == "start" and result.signed_seq == 300 and result.unsigned == 0
    assert result.keys == [key.public.fingerprint]
    assert result.summary().startswith("verified 300 entries, seq 1..300, anchored (start)")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("message", "entry 120 (edited)"),
        ("actor", "someone-else"),
        ("ts", 1),
        ("metadata", '{"n":999}'),
        ("entity_name", "Renamed strip"),
    ],
)
def test_a_changed_field_is_found_at_its_seq(log, column, value):
    path, _key = log
    sql(path, (f"UPDATE activity_log SET {column} = ? WHERE seq = 120", (value,)))
    failure = _failure(path)
    assert failure.seq == 120
    assert "content changed" in failure.reason


def test_a_deleted_middle_row_is_named_missing(log):
    path, _key = log
    sql(path, ("DELETE FROM activity_log WHERE seq = 77",))
    failure = _failure(path)
    assert failure.seq == 77 and "entry missing" in failure.reason


def test_two_swapped_rows_break_the_order(log):
    path, _key = log
    sql(
        path,
        ("UPDATE activity_log SET seq = -1 WHERE seq = 40",),
        ("UPDATE activity_log SET seq = 40 WHERE seq = 41",),
        ("UPDATE activity_log SET seq = 41 WHERE seq = -1",),
    )
    failure = _failure(path)
    assert failure.seq == 40 and "order broken" in failure.reason


def test_a_forged_row_with_a_fresh_chain_fails_at_the_next_signed_checkpoint(log):
    """The attacker knows the algorithm: inserts a row at 130, renumbers the rest, recomputes
    every chain value. Only the signed checkpoints (130 < 150) can tell."""
    path, _key = log
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for (seq,) in conn.execute("SELECT seq FROM activity_log WHERE seq >= 130 ORDER BY seq DESC"):
        conn.execute("UPDATE activity_log SET seq = seq + 1 WHERE seq = ?", (seq,))
    conn.execute(
        f"INSERT INTO activity_log (seq, {chain.ENTRY_COLUMNS}) SELECT 130, id || 'x', ts, "
        "category, action, severity, 'forger', 'forged', entity_type, entity_id, entity_name, "
        "metadata FROM activity_log WHERE seq = 129"
    )
    value = chain.full_chain_at(conn, 129)
    rows = conn.execute(f"SELECT seq, {chain.ENTRY_COLUMNS} FROM activity_log WHERE seq >= 130")
    for row in rows.fetchall():
        value = chain.next_chain(value, row[0], row[1:])
        conn.execute("UPDATE activity_log SET chain = ? WHERE seq = ?", (value, row[0]))
    conn.execute("COMMIT")
    conn.close()
    failure = _failure(path)
    assert failure.seq == 150
    assert "differs from the checkpoint signed" in failure.reason


def test_a_forged_checkpoint_without_a_valid_signature_is_named(log):
    path, _key = log
    body = checkpoint_note(path, 300)
    forged = body.replace("\n300\n", "\n250\n")
    sql(path, ("UPDATE activity_checkpoints SET note = ? WHERE seq = 300", (forged,)))
    failure = _failure(path)
    assert failure.seq == 300 and "does not verify" in failure.reason


def test_a_log_cut_at_the_end_then_continued_fails_against_an_older_checkpoint(log, tmp_path):
    """Cut after 200, stored checkpoints above it deleted, then 150 new entries chained on from
    200 (the attacker's or the server's): the log verifies on its own, but not against the
    checkpoint for 250 that the user kept elsewhere."""
    path, key = log
    kept = checkpoint_note(path, 250)
    sql(
        path,
        ("DELETE FROM activity_log WHERE seq > 200",),
        ("DELETE FROM activity_checkpoints WHERE seq > 200",),
    )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    rows = [(f"{i:020x}", 10**15 + i, "system", "x.y", "info", "a", f"new {i}", None, None, None,
             "{}") for i in range(150)]  # fmt: skip
    chain.append_rows(conn, rows)
    conn.execute("COMMIT")
    conn.close()
    assert verify_database(path).ok  # alone, it cannot show the cut
    failure = _failure(path, keys=[key.public], checkpoint=kept)
    assert failure.seq == 250 and "checkpoint given" in failure.reason
    # Cut and not continued as far: the log ends before the checkpoint.
    sql(path, ("DELETE FROM activity_log WHERE seq > 230",))
    failure = _failure(path, keys=[key.public], checkpoint=kept)
    assert failure.seq == 231 and "cut from the end" in failure.reason


def test_a_cut_end_is_caught_by_the_stored_checkpoint_left_behind(log):
    path, _key = log
    sql(path, ("DELETE FROM activity_log WHERE seq > 280",))
    failure = _failure(path)
    assert failure.seq == 281 and "cut from the end" in failure.reason


def test_a_removed_anchor_is_found(log):
    path, _key = log
    sql(path, ("DELETE FROM activity_log WHERE seq <= 20",), ("DELETE FROM activity_anchors",))
    failure = _failure(path)
    assert failure.seq == 21 and "no signed anchor" in failure.reason


@pytest.mark.parametrize(
    ("column", "value"),
    [("removed", 5), ("reason", "clear"), ("prev_chain", hashlib.sha256(b"x").digest())],
)
def test_an_altered_anchor_is_found(log, column, value):
    path, _key = log
    sql(path, (f"UPDATE activity_anchors SET {column} = ? WHERE first_seq = 1", (value,)))
    failure = _failure(path)
    assert failure.seq == 1 and "anchor at #1 was altered" in failure.reason


def test_a_checkpoint_signed_by_another_key_is_refused(log, tmp_path):
    path, key = log
    (tmp_path / "other").mkdir()
    other = DeviceKey.load_or_create(tmp_path / "other")
    note = checkpoint_note(path, 200)
    body = note.partition("\n\n")[0] + "\n"
    resigned = other.sign_note(body.replace(key.origin, other.origin, 1))
    sql(path, ("UPDATE activity_checkpoints SET note = ? WHERE seq = 200", (resigned,)))
    failure = _failure(path)
    assert failure.seq == 200 and "not trusted" in failure.reason
    # An attacker who also records the other key in the file fools a check that trusts the
    # file's own keys; pinning the device's key (--public-key) does not let it through.
    public = other.public
    sql(path, ("INSERT INTO activity_keys VALUES ('x', ?, ?, 0)", (public.origin, public.raw)))
    assert verify_database(path).ok
    failure = _failure(path, keys=[key.public])
    assert failure.seq == 200 and "not trusted" in failure.reason


def test_an_unsigned_anchor_is_not_accepted(log):
    path, _key = log
    sql(path, ("UPDATE activity_anchors SET note = NULL",))
    failure = _failure(path)
    assert failure.seq == 1 and "not signed" in failure.reason


def test_entries_after_a_seq_carry_their_full_chain_values(log):
    """What a forwarder reads: the values meet the signed checkpoint at 150."""
    path, _key = log
    conn = sqlite3.connect(path)
    try:
        entries = chain.entries_after(conn, 100, 60)
        signed = conn.execute("SELECT chain FROM activity_checkpoints WHERE seq = 150").fetchone()
    finally:
        conn.close()
    assert [e[0] for e in entries] == list(range(101, 161))
    by_seq = {e[0]: e[-1] for e in entries}
    assert by_seq[150] == signed[0]
    for entry in entries[1:]:
        assert entry[-1] == chain.next_chain(by_seq[entry[0] - 1], entry[0], entry[1:12])
