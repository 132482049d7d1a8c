"""Crash safety (SIGKILL mid-burst) and a full disk (a file-size limit), in child processes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BURST = """
import sys
from ledgrab.core.activity_log.settings import ActivityLogSettings
from tests.activity.helpers import open_recorder
settings = ActivityLogSettings(commit_interval_s=0.05, max_batch=200)
with open_recorder(sys.argv[1], settings) as (db, recorder):
    reported, i = 0, 0
    while True:
        if recorder.record("system", "burst.entry", message=str(i)) is not None:
            i += 1
        if recorder.committed_index != reported:
            reported = recorder.committed_index
            print(reported, flush=True)
"""


def _child(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


def test_sigkill_mid_burst_keeps_the_file_intact_and_loses_only_the_open_window(tmp_path):
    path = tmp_path / "a.db"
    child = _child(BURST, str(path))
    durable = 0
    try:
        for line in child.stdout:
            durable = int(line)  # the child saw this many entries committed
            if durable >= 3000:
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        messages = [int(m) for (m,) in conn.execute("SELECT message FROM activity_log")]
    finally:
        conn.close()
    assert len(messages) >= durable
    assert messages == list(range(len(messages)))  # a prefix: no hole, nothing reordered


FULL_DISK = """
import json, resource, signal, sys, time
from ledgrab.core.activity_log.settings import ActivityLogSettings
from tests.activity.helpers import open_recorder, rows
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
path = sys.argv[1]
settings = ActivityLogSettings(commit_interval_s=0.02, max_batch=50)
def wait(pred):
    deadline = time.monotonic() + 20
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
out = {}
with open_recorder(path, settings, max_pending=300, retry_min_s=0.05, retry_max_s=0.2) as (db, r):
    for i in range(100):
        r.record("system", "before.full", message="x" * 200)
    r.flush_blocking()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    # No file may grow any more: the next WAL frames cannot be written.
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    for i in range(1000):
        r.record("system", "while.full", message="y" * 200)
    wait(lambda: r.state == "degraded")
    out["degraded_reason"] = r.reason
    out["pending_while_full"] = r.pending
    out["dropped"] = r.dropped_total
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    wait(lambda: r.state == "ok" and r.pending == 0)
    r.flush_blocking()
out["actions"] = [a for _, a in rows(path)]
print(json.dumps(out))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_full_disk_degrades_then_recovers_losing_only_past_the_buffer_bound(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tmp_path / "a.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert "cannot write the activity log" in out["degraded_reason"]
    assert out["pending_while_full"] == 300
    assert out["dropped"] == 700
    actions = out["actions"]
    assert actions.count("before.full") == 100
    assert actions.count("while.full") == 300  # everything the buffer could hold
    assert actions[-1] == "activity.entries_dropped"
