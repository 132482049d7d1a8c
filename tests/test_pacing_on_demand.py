"""Pacing on demand: a frame loop that keeps time sends its own frames and no pacer process
runs; held-up ticks bring the pacer in (a real process and real sockets) until a hold after
the last one, and a device that closes meanwhile leaves nothing behind."""

import asyncio
import time

from ledgrab.core.devices.ddp import DdpDriver
from ledgrab.core.devices.factory import DriverContext
from ledgrab.core.processing.pacer import FramePacer
from ledgrab.models.devices import DdpDevice
from tests.support.live_server import until
from tests.support.receivers import StampedUdpReceiver as Stamped

FRAME = bytes(9)
INTERVAL = 1 / 60
LEAD = 0.006


def test_three_late_ticks_within_ten_seconds_start_pacing_and_a_hold_without_one_ends_it():
    pacer = FramePacer(lead_s=0.006, on_demand=True, hold_s=30)
    t = 1000.0
    assert not pacer.wanted(t, t + 0.0005), "on time"
    # One held-up tick is seen by every target on the grid: it counts once.
    assert not any(pacer.wanted(t + 1, t + 1.002) for _ in range(4))
    assert not pacer.wanted(t + 12, t + 12.002)
    assert not pacer.wanted(t + 13, t + 13.002), "three late ticks, but over 12 s"
    assert pacer.wanted(t + 14, t + 14.002), "three within 2 s"
    assert pacer.wanted(t + 40, t + 40.0), "on time, within the hold"
    assert pacer.wanted(t + 43, t + 43.002), "late again: the hold starts over"
    assert pacer.wanted(t + 72, t + 72.0)
    assert not pacer.wanted(t + 74, t + 74.0), "30 s without a late tick"
    _, _, details = pacer.health()
    assert details["pacing"] == "on-demand"
    assert details["engagements"] == 1
    assert details["paced_s"] == round(73.002 - 14.002, 1)


def test_always_wants_every_frame_paced():
    pacer = FramePacer(lead_s=0.006)
    assert pacer.wanted(1000.0, 1000.0)
    assert pacer.health()[2]["pacing"] == "always"


def _driver(port: int, pacer: FramePacer) -> DdpDriver:
    device = DdpDevice(name="d", led_count=3, address="127.0.0.1", port=port)
    return DdpDriver(device, DriverContext(pacer=pacer))


def _tick(driver: DdpDriver, grid: float) -> float:
    """What a target's frame loop does for one grid point: read the driver's tick delay when it
    schedules the tick, then hand the frame over; returns the delay."""
    delay = driver.tick_delay_s()
    driver.send_for(FRAME, grid + delay, grid + INTERVAL)
    return delay


def _late_ticks(driver: DdpDriver, count: int) -> None:
    """Ticks handed over 3 ms after their time (a grid point, plus the lead while direct)."""
    for _ in range(count):
        _tick(driver, time.monotonic() - 0.003 - LEAD)


def test_a_driver_sends_itself_until_ticks_come_late_then_through_the_pacer_then_itself_again():
    dues: list[float] = []
    with Stamped() as rx:

        async def scenario() -> None:
            pacer = FramePacer(lead_s=LEAD, on_demand=True, hold_s=0.3, idle_stop_s=0.2)
            driver = _driver(rx.port, pacer)
            await driver.open()
            try:
                for _ in range(5):
                    delay = _tick(driver, time.monotonic())
                    assert delay == pacer.lead_s, "sending itself, on the paced frames' phase"
                assert pacer.pid is None, "no process for a frame loop that keeps time"
                _late_ticks(driver, 2)
                assert pacer.pid is None and not driver.details()["sent_by_frame_pacer"]
                _late_ticks(driver, 1)
                await until(lambda: driver.details()["sent_by_frame_pacer"], "a pacer slot")
                assert pacer.pid is not None
                await until(lambda: len(rx.arrivals) == 8, "the frames sent directly")
                grid = time.monotonic()
                dues.append(grid + pacer.lead_s)
                # On time, but within the hold: made on the grid point, sent a lead later.
                assert _tick(driver, grid) == 0.0
                await until(lambda: len(rx.arrivals) == 9, "the paced frame")
                await asyncio.sleep(0.35)  # the hold passes with no late tick
                # The first tick after it is still paced (it was scheduled so); the next one
                # comes a lead later and gives the slot back.
                assert _tick(driver, time.monotonic()) == 0.0
                assert _tick(driver, time.monotonic()) == pacer.lead_s
                assert not driver.details()["sent_by_frame_pacer"]
                await until(lambda: len(rx.arrivals) == 11, "the frame sent directly again")
                await until(lambda: pacer.pid is None, "the process's idle stop")
                details = pacer.health()[2]
                assert details["engagements"] == 1 and details["paced_s"] > 0
            finally:
                await driver.close()
                await pacer.aclose()

        asyncio.run(scenario())
    assert rx.arrivals[8][1] >= dues[0], "the paced frame left at its due time, not before"


def test_a_device_closed_while_its_slot_opens_leaves_no_slot_behind():
    with Stamped() as rx:

        async def scenario() -> None:
            pacer = FramePacer(lead_s=LEAD, on_demand=True, idle_stop_s=0.2)
            driver = _driver(rx.port, pacer)
            await driver.open()
            try:
                _late_ticks(driver, 3)  # starts the process and the hand-over in a task
                await driver.close()  # waits for that hand-over, then gives the slot back
                assert not driver.details()["sent_by_frame_pacer"]
                await until(lambda: pacer.pid is None, "the process's idle stop")
            finally:
                await pacer.aclose()

        asyncio.run(scenario())
