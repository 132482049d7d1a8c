"""The power-cut shim loses exactly what was not synced: file pages until fsync, renames and new
files until their directory is fsynced; the real sqlite3 keeps every commit it acknowledged
with synchronous=FULL and loses some without a sync."""

import random
import signal
import sqlite3
import textwrap

import pytest

from tests.support.power_cut import PowerCut, build_shim


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    return build_shim(tmp_path_factory.mktemp("shim"))


def _run_then_cut(shim, tmp_path, code, mode, seed=1):
    root = tmp_path / "data"
    root.mkdir(exist_ok=True)
    cut = PowerCut(shim, root, tmp_path / "cut")
    body = textwrap.dedent(code) + "\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    result = cut.run_python(body)
    assert result.returncode == -signal.SIGKILL, result.stderr
    return root, cut.lose(mode, random.Random(seed)), result.stdout


REPLACE = """
import os, sys
root = sys.argv[1]
tmp, target = os.path.join(root, "f.tmp"), os.path.join(root, "f")
with open(tmp, "wb") as f:
    f.write(b"new" * 2000)
    f.flush()
    os.fsync(f.fileno())
os.replace(tmp, target)
"""


def test_a_rename_is_lost_until_the_directory_is_synced(shim, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "f").write_bytes(b"old")
    root, loss, _ = _run_then_cut(shim, tmp_path, REPLACE, "all")
    assert (root / "f").read_bytes() == b"old"
    assert not (root / "f.tmp").exists()
    assert any(entry.startswith("rename") for entry in loss.entries_undone)


def test_a_rename_followed_by_a_directory_sync_stays(shim, tmp_path):
    code = REPLACE + "fd = os.open(root, os.O_RDONLY)\nos.fsync(fd)\n"
    root, loss, _ = _run_then_cut(shim, tmp_path, code, "all")
    assert (root / "f").read_bytes() == b"new" * 2000
    assert loss.entries_undone == []


def test_unsynced_pages_go_back_to_what_was_synced(shim, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "f").write_bytes(b"A" * 10_000)
    code = """
    import os, sys
    with open(os.path.join(sys.argv[1], "f"), "r+b") as f:
        f.write(b"B" * 20_000)
    """
    for mode, expected in (("none", b"B" * 20_000), ("all", b"A" * 10_000)):
        (root / "f").write_bytes(b"A" * 10_000)
        _run_then_cut(shim, tmp_path, code, mode)
        assert (root / "f").read_bytes() == expected, mode
    seen = set()
    for seed in range(12):
        (root / "f").write_bytes(b"A" * 10_000)
        _run_then_cut(shim, tmp_path, code, "random", seed)
        data = (root / "f").read_bytes()
        pages = {data[i : i + 4096] for i in range(0, len(data), 4096)}
        # whole pages only: old (A, zeros past the old end) or new (B), never a torn page
        assert all(len(set(page.rstrip(b"\0"))) <= 1 for page in pages), pages
        seen.add(data)
    assert len(seen) > 2, "a random cut mixes old and new pages"


SQLITE = """
import sqlite3, sys, os
conn = sqlite3.connect(os.path.join(sys.argv[1], "t.db"), isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA synchronous = " + {sync!r})
conn.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, pad TEXT)")
for n in range(300):
    conn.execute("INSERT INTO t VALUES (?, ?)", (n, "x" * 500))
    print(n, flush=True)
"""


@pytest.mark.parametrize("seed", range(3))
def test_sqlite_with_full_sync_keeps_every_acknowledged_commit(shim, tmp_path, seed):
    root, _loss, out = _run_then_cut(shim, tmp_path, SQLITE.format(sync="FULL"), "random", seed)
    acknowledged = len(out.split())
    conn = sqlite3.connect(root / "t.db")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    rows = [n for (n,) in conn.execute("SELECT n FROM t ORDER BY n")]
    conn.close()
    assert rows == list(range(acknowledged))


def test_sqlite_without_sync_loses_acknowledged_commits(shim, tmp_path):
    """The harness can fail: with synchronous=OFF nothing reaches the card before the cut."""
    root, loss, out = _run_then_cut(shim, tmp_path, SQLITE.format(sync="OFF"), "all")
    conn = sqlite3.connect(root / "t.db")
    rows = conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 't'").fetchone()[0]
    conn.close()
    assert len(out.split()) == 300 and rows == 0, loss.summary()


def _stored_log(scratch, ids):
    (scratch / "copy").mkdir(parents=True)
    conn = sqlite3.connect(scratch / "copy" / "ledgrab.db")
    conn.execute("CREATE TABLE activity_log (seq INTEGER PRIMARY KEY, id TEXT, ts INTEGER)")
    conn.executemany("INSERT INTO activity_log (id, ts) VALUES (?, ?)", [(i, 0) for i in ids])
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("stored", "found"),
    [
        (["b", "c", "d", "e"], None),  # pruned at the old end, everything else there
        (["a", "b", "d", "e"], "not an unbroken run"),  # a hole
        (["a", "b"], "older than the commit window were lost"),  # the newest lost too early
        (["b", "a", "c", "d", "e"], "not an unbroken run"),  # reordered
    ],
)
def test_the_log_check_finds_holes_reordering_and_losses_past_the_window(tmp_path, stored, found):
    from tests.support.after_the_cut import check_log
    from tests.support.busy_minute import Acknowledged, Observed

    _stored_log(tmp_path, stored)
    second = 1_000_000
    recorded = Observed([(name, n * second, "x") for n, name in enumerate("abcde")])
    acked = Acknowledged(activity_settings={"commit_interval_s": 2.0})
    problems = check_log(tmp_path, acked, recorded, killed_at_us=20 * second)
    assert (found is None and problems == []) or found in " ".join(problems), problems
