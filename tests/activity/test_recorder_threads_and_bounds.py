"""record() from the loop and from foreign threads at once; the bounded buffer; bad input."""

from __future__ import annotations

import asyncio
import json
import threading

from ledgrab.core.activity_log.recorder import ActivityRecorder
from ledgrab.core.activity_log.settings import ActivityLogSettings
from ledgrab.core.event_bus import EventBus
from ledgrab.storage.database import Database
from tests.activity.helpers import open_recorder, rows


def test_loop_and_foreign_threads_interleave_without_loss(tmp_path):
    path = tmp_path / "a.db"
    settings = ActivityLogSettings(commit_interval_s=0.01, max_batch=64)
    with open_recorder(path, settings) as (_db, recorder):

        def from_thread(name: str) -> None:  # as zeroconf's browser thread would
            for i in range(500):
                recorder.record("device", "device.discovered", message=f"{name} {i}")

        async def main() -> None:
            threads = [threading.Thread(target=from_thread, args=(f"t{n}",)) for n in range(3)]
            for t in threads:
                t.start()
            for i in range(500):
                recorder.record("system", "loop.entry", message=f"loop {i}")
                if i % 50 == 0:
                    await asyncio.sleep(0)
            for t in threads:
                await asyncio.to_thread(t.join)
            await recorder.flush()

        asyncio.run(main())
        messages = [m for (m,) in rows(path, "SELECT message FROM activity_log ORDER BY seq")]
    assert len(messages) == 2000
    for source in ("t0", "t1", "t2", "loop"):
        mine = [m for m in messages if m.startswith(source + " ")]
        assert mine == [f"{source} {i}" for i in range(500)]  # none lost, order kept


def test_past_max_pending_entries_are_dropped_counted_and_reported(tmp_path):
    path = tmp_path / "a.db"
    settings = ActivityLogSettings(commit_interval_s=300, max_batch=10_000)
    with open_recorder(path, settings, max_pending=100) as (_db, recorder):
        accepted = [recorder.record("system", "t.e", message=str(i)) for i in range(150)]
        assert sum(e is not None for e in accepted) == 100
        assert recorder.dropped_total == 50
        assert recorder.pending == 100
        recorder.flush_blocking()
        recorder.flush_blocking()  # the report is recorded once the pressure is gone
        stored = rows(path, "SELECT action, severity, metadata FROM activity_log ORDER BY seq")
    assert len(stored) == 101
    assert stored[-1][:2] == ("activity.entries_dropped", "warning")
    assert '"dropped":50' in stored[-1][2]


def test_record_never_raises_and_keeps_one_line(tmp_path):
    with open_recorder(tmp_path / "a.db") as (_db, recorder):
        assert recorder.record("nonsense", "x.y", message="bad category") is None
        assert recorder.record("system", "x.y", severity="loud", message="bad") is None
        odd = recorder.record("system", "x.y", message="a\nb\r\x1bc", entity_name="n\u2028m")
        assert odd is not None
        assert odd.message == "a b  c"
        assert odd.entity_name == "n m"
        unencodable = recorder.record("system", "x.y", message="m", metadata={"x": object()})
        assert unencodable is None
        big = recorder.record("system", "x.y", message="m", metadata={"x": "y" * 10_000})
        assert big is not None and big.metadata["truncated"] is True


def test_disabled_records_nothing_unless_bypassed(tmp_path):
    path = tmp_path / "a.db"
    with open_recorder(path, ActivityLogSettings(enabled=False)) as (_db, recorder):
        assert recorder.record("system", "x.y", message="off") is None
        assert recorder.record("system", "x.z", message="on", _bypass_enabled=True) is not None
    assert [a for _, a in rows(path)] == ["x.z"]


def test_a_clock_stepped_back_does_not_reorder_the_log(tmp_path):
    now = [1_800_000_000.0]
    with open_recorder(tmp_path / "a.db", wall_clock=lambda: now[0]) as (_db, recorder):
        first = recorder.record("system", "x.y", message="before the step")
        now[0] -= 3600  # NTP corrects a clock that ran an hour ahead
        second = recorder.record("system", "x.y", message="after the step")
        now[0] += 7200
        third = recorder.record("system", "x.y", message="clock ahead again")
    assert second.ts == first.ts  # held at the newest time seen, never earlier
    assert third.ts > second.ts


def test_the_feed_shows_the_metadata_stored_even_if_the_caller_changes_it_afterwards(tmp_path):
    # The feed's message is encoded after record() returns (at the loop's next turn).
    path = tmp_path / "a.db"
    db = Database(path)
    db.open()
    try:

        async def main() -> dict:
            bus = EventBus()
            bus.bind(asyncio.get_running_loop())
            sub = bus.subscribe(["activity_logged"])
            recorder = ActivityRecorder(db, bus)
            db.add_batch_source(recorder)
            fields = ["brightness"]
            metadata = {"fields": fields}
            recorder.record("entity", "device.updated", message="changed", metadata=metadata)
            fields.append("name")  # the caller goes on using its own objects
            metadata["later"] = True
            message = json.loads(await sub.get())
            await recorder.flush()
            return message

        message = asyncio.run(main())
        (stored,) = rows(path, "SELECT metadata FROM activity_log")
    finally:
        db.close()
    assert message["entry"]["metadata"] == {"fields": ["brightness"]}
    assert json.loads(stored[0]) == message["entry"]["metadata"]
