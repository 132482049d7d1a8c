"""Honest time on a board without a clock: each entry says whether the clock was synchronised
when it was made (with its boot and offset since boot, inside the chained metadata); when the
clock becomes synchronised one `system.clock_synced` entry records the step, and the earlier
entries of that boot are shown with a corrected time (list, one entry, export), while their
stored time stays as it was. Driven by an injected wall clock and sync flag."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledgrab.app import DATABASE_FILE
from ledgrab.cli import main
from ledgrab.core.activity_log.clock_steps import ClockSteps, corrected_fields
from ledgrab.storage.activity_log import ActivityLogEntry, Category, Severity, from_us
from tests.activity.chain_helpers import sql
from tests.support.board_clock import BoardClock
from tests.support.live_server import LiveServer, wait_for

BEHIND_S = 90 * 86_400  # the card's saved time after a long power cut
DEVICE = {"name": "Shelf", "type": "ddp", "address": "127.0.0.1", "port": 4048, "led_count": 30}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _entry_of(client, action: str) -> dict:
    items = client.get("/api/v1/activity", params={"limit": 500}).json()["items"]
    return next(e for e in items if e["action"] == action)


def _board(tmp_path) -> tuple[LiveServer, BoardClock]:
    server = LiveServer(tmp_path / "data", clock={"check_s": 0.05})
    return server, BoardClock(server.app.state.system_clock, BEHIND_S)


def test_entries_before_the_sync_are_flagged_then_shown_corrected(tmp_path):
    server, board = _board(tmp_path)
    with server, server.client() as client:
        before = datetime.now(UTC)
        created = client.post("/api/v1/devices", json=DEVICE)
        after = datetime.now(UTC)
        assert created.status_code == 201, created.text
        early = _entry_of(client, "device.created")
        # Made by a clock three months late: flagged, no correction known yet.
        assert early["clock_synchronised"] is False and early["ts_corrected"] is None
        assert _when(early["ts"]) < before - timedelta(days=80)
        synced, boot, mono_us = early["metadata"]["clock"]
        assert synced is False and mono_us > 0
        assert boot == server.app.state.system_clock.boot.replace("-", "")[:12]

        board.synchronise()
        step = wait_for(
            lambda: next(
                (e for e in client.get("/api/v1/activity").json()["items"]
                 if e["action"] == "system.clock_synced"), None),
            what="the system.clock_synced entry",
        )  # fmt: skip
        assert step["clock_synchronised"] is True and step["ts_corrected"] is None
        assert abs(step["metadata"]["step_s"] - BEHIND_S) < 60
        assert _when(step["metadata"]["new"]) - _when(step["metadata"]["old"]) > timedelta(days=89)

        listed = _entry_of(client, "device.created")
        one = client.get(f"/api/v1/activity/{early['id']}").json()
        for shown in (listed, one):
            assert shown["ts"] == early["ts"]  # the stored time is kept
            assert shown["clock_synchronised"] is False
            assert before <= _when(shown["ts_corrected"]) <= after
        # Retention's age bound counts the corrected time: stamped 90 days ago by a late
        # clock, made seconds ago, the entries stay (a settings change runs retention).
        put = client.put("/api/v1/activity/settings", json={"max_days": 30})
        assert put.status_code == 200, put.text
        server.app.state.activity_recorder.flush_blocking()
        started = _entry_of(client, "server.started")
        assert started["clock_synchronised"] is False
        assert _when(started["ts_corrected"]) <= before

        exported = json.loads(client.get("/api/v1/activity/export?format=json").content)
        [row] = [e for e in exported if e["id"] == early["id"]]
        assert row["ts"] == early["ts"] and row["ts_corrected"] == listed["ts_corrected"]
        text = client.get("/api/v1/activity/export?format=csv").text
        [cells] = [c for c in csv.DictReader(io.StringIO(text)) if c["id"] == early["id"]]
        assert cells["clock_synchronised"] == "false"
        assert _when(cells["ts_corrected"]) == _when(listed["ts_corrected"])

        later = client.post("/api/v1/devices", json={**DEVICE, "name": "Desk"}).json()
        late = next(
            e for e in client.get("/api/v1/activity").json()["items"]
            if e["entity_id"] == later["id"]
        )  # fmt: skip
        assert late["metadata"]["clock"][0] is True
        assert late["clock_synchronised"] is True and late["ts_corrected"] is None

        # The stamps are inside the chained metadata: the log still proves itself.
        client.get("/api/v1/activity/verify", params={"run": "true"})
        done = wait_for(
            lambda: (s := client.get("/api/v1/activity/verify").json())["state"] == "done" and s,
            what="verification",
        )
        assert done["result"]["ok"], done

    # A restart in the same boot reads the step back from the log.
    again, _ = _board(tmp_path)
    with again, again.client() as client:
        shown = client.get(f"/api/v1/activity/{early['id']}").json()
        assert shown["ts_corrected"] == listed["ts_corrected"]
        export = tmp_path / "export.csv"
        export.write_bytes(client.get("/api/v1/activity/export?format=csv").content)

    # `ledgrab verify` on the card and on the CSV export (its two read-time columns ignored);
    # an entry whose stamp is changed afterwards fails it: the chain covers the stamp.
    data = str(tmp_path / "data")
    assert main(["verify", "--data-dir", data]) == 0
    assert main(["verify", "--from-export", str(export)]) == 0
    unsynced = '"clock":[false,'
    sql(
        Path(data) / DATABASE_FILE,
        (f"UPDATE activity_log SET metadata = replace(metadata, '{unsynced}', "
         f"'\"clock\":[true,') WHERE id = '{early['id']}'",),
    )  # fmt: skip
    assert main(["verify", "--data-dir", data]) == 1


def test_a_caller_cannot_forge_the_clock_stamp(tmp_path):
    server, _board_clock = _board(tmp_path)
    with server:
        entry = server.app.state.activity_recorder.record(
            "system", "test.forge", message="forged", metadata={"clock": [True, "x", 1]}
        )
    assert entry.metadata["clock"][:2] == [False, server.app.state.system_clock.boot_tag]


def _entry(stamp: object) -> ActivityLogEntry:
    return ActivityLogEntry(
        id="x", ts=from_us(0), category=Category.SYSTEM, action="t", severity=Severity.INFO,
        actor="system", message="m", metadata={} if stamp is None else {"clock": stamp},
    )  # fmt: skip


def test_each_entry_is_corrected_by_the_next_step_of_its_own_boot():
    steps = ClockSteps()
    new = int(time.time() * 1_000_000)
    steps.add_entry(
        {"clock": [True, "b1", 1], "mono_us": 10_000_000, "new": from_us(new).isoformat()}
    )
    steps.add_entry(
        {"clock": [True, "b1", 2], "mono_us": 50_000_000, "new": from_us(new + 10**9).isoformat()}
    )
    steps.add_entry({"clock": "junk", "mono_us": 1, "new": "x"})  # ignored, not an error

    def shown(boot, mono):  # fmt: skip
        return corrected_fields(_entry([False, boot, mono]), steps)

    assert shown("b1", 4_000_000) == (False, from_us(new - 6_000_000))
    assert shown("b1", 20_000_000) == (False, from_us(new + 10**9 - 30_000_000))
    assert shown("b1", 60_000_000) == (False, None)  # after the last step: not yet known
    assert shown("b2", 4_000_000) == (False, None)  # another boot's step says nothing
    assert corrected_fields(_entry(None), steps) == (None, None)  # made before stamps existed
    assert corrected_fields(_entry(["yes", 3, 1]), steps) == (None, None)
    assert corrected_fields(_entry({"synced": False}), steps) == (None, None)
