"""A target that fails says so: `target.error` once when it first fails, `target.recovered` when it
sends again, a flapping device coalesced to one entry per window (on a simulated clock), and a
ws281x target on a machine without the hardware is `failed` with its reason, in the log too."""

from __future__ import annotations

import asyncio

from ledgrab.core.activity_log.target_trouble import TargetTroubleLog
from ledgrab.core.effects.patterns import Static, StaticParams
from ledgrab.core.processing.target_runner import RunnerTimings
from tests.support.entities import start_static_target
from tests.support.live_server import LiveServer, wait_for
from tests.test_frame_pacing import FlakyDriver, SimClock, _runner


class _Recorder:
    def __init__(self) -> None:
        self.entries: list[dict] = []

    def record(self, category, action, **fields) -> None:
        self.entries.append({"category": category, "action": action, **fields})


def test_a_device_flapping_every_second_is_one_entry_per_window():
    recorder, now = _Recorder(), [0.0]
    trouble = TargetTroubleLog(recorder, window_s=60.0, clock=lambda: now[0])
    for second in range(150):  # fails at every whole second, recovers half a second later
        now[0] = float(second)
        trouble.failed("tgt_1", "Desk", f"strip unplugged ({second})")
        now[0] = second + 0.5
        trouble.recovered("tgt_1", "Desk")
    now[0] = 150.2
    trouble.failed("tgt_1", "Desk", "strip unplugged (last)")
    trouble.flush()
    # The first failure at once; then one entry as each window closes (at 60 s, 120 s, and the
    # flush), saying where the target stands: 4 entries for 301 transitions.
    assert [e["action"] for e in recorder.entries] == [
        "target.error", "target.recovered", "target.recovered", "target.error",
    ]  # fmt: skip
    first, second, _, last = recorder.entries
    assert first["severity"] == "error" and last["severity"] == "error"
    assert first["message"] == 'Target "Desk" failed: strip unplugged (0)'
    assert (first["entity_type"], first["entity_id"], first["entity_name"]) == (
        "target", "tgt_1", "Desk",
    )  # fmt: skip
    assert second["message"] == (
        'Target "Desk" is sending frames again (after 59 more failures in 60 s)'
    )
    assert second["metadata"] == {"failures": 59, "recoveries": 60, "window_s": 60}
    assert last["message"] == (
        'Target "Desk" is failing (31 more failures in 60 s): strip unplugged (last)'
    )
    total = sum(e["metadata"].get("failures", 1) for e in recorder.entries)
    assert total == 151  # every failure counted once, none lost


def test_a_failure_then_a_recovery_are_two_entries_and_a_quiet_target_none():
    recorder, now = _Recorder(), [0.0]
    trouble = TargetTroubleLog(recorder, window_s=60.0, clock=lambda: now[0])
    trouble.recovered("tgt_1", "Desk")  # never failed: nothing to say
    assert recorder.entries == []
    trouble.failed("tgt_1", "Desk", "cannot open the device")
    now[0] = 61.0
    trouble.recovered("tgt_1", "Desk")
    now[0] = 200.0
    trouble.flush()
    assert [e["message"] for e in recorder.entries] == [
        'Target "Desk" failed: cannot open the device',
        'Target "Desk" is sending frames again',
    ]
    # One recovery in a window after a failure: counted, then a singular summary.
    trouble.failed("tgt_1", "Desk", "gone")
    now[0] = 201.0
    trouble.recovered("tgt_1", "Desk")
    trouble.forget("tgt_1")  # the target stopped: its count is recorded, nothing is kept
    assert recorder.entries[-1]["message"] == (
        'Target "Desk" is sending frames again (after 0 more failures in 60 s)'
    )
    trouble.forget("tgt_1")
    assert len(recorder.entries) == 4


def test_the_frame_loop_reports_its_first_failure_and_its_recovery_once():
    notes: list[str | None] = []
    driver = FlakyDriver(open_failures=3, good_frames=5)
    clock = SimClock([])
    timings = RunnerTimings(reconnect_initial_s=0.001, reconnect_max_s=0.004)
    runner = _runner(driver, Static(StaticParams()), clock, timings=timings)
    runner._on_trouble = notes.append
    statuses: list[str] = []
    runner._bus.publish = lambda _type, _payload=None: statuses.append(runner.status)

    async def run() -> None:
        runner.start()
        while driver.frames_sent < 20:
            await asyncio.sleep(0)
        await runner.stop()

    asyncio.run(run())
    # three failed opens are one failure; the unplug after frames is the second
    assert notes == [
        "cannot open the device: no route to the strip", None, "strip unplugged", None,
    ]  # fmt: skip
    assert "failed" in statuses and "reconnecting" in statuses
    assert statuses.index("failed") < statuses.index("reconnecting")


def test_a_target_whose_device_cannot_open_is_failed_with_its_reason(tmp_path):
    # No /dev/leds* here and no rpi_ws281x module: the ws281x device cannot open.
    engine = {"leds_dev_dir": str(tmp_path / "no-leds"), "reconnect_initial_s": 0.05,
              "reconnect_max_s": 0.1}  # fmt: skip
    with (
        LiveServer(tmp_path / "data", demo_on_first_start=False, engine=engine) as live,
        live.client() as client,
    ):
        device = {"type": "ws281x", "name": "Porch strip", "led_count": 3}
        target_id, _ = start_static_target(client, device, "#ff0000", name="Porch")
        state = wait_for(
            lambda: (
                (s := client.get(f"/api/v1/targets/{target_id}/state").json())["errors"] >= 3 and s
            ),
            what="three failed attempts",
        )
        assert state["status"] == "failed" and state["last_error"]
        entries = wait_for(
            lambda: client.get("/api/v1/activity", params={"entity_id": target_id}).json()["items"],
            what="the target's entries",
        )
        errors = [e for e in entries if e["action"] == "target.error"]
        assert len(errors) == 1, entries
        assert errors[0]["severity"] == "error" and errors[0]["entity_name"] == "Porch"
        assert errors[0]["message"].startswith('Target "Porch" failed: cannot open the device')
