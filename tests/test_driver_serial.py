"""Adalight and AWA through a pty pair: an emulator parses the frames back and checks them."""

from __future__ import annotations

import asyncio

import pytest

from ledgrab.core.devices.adalight import AdalightDriver, adalight_frame
from ledgrab.core.devices.factory import DriverContext
from ledgrab.models.devices import AdalightDevice
from tests.support.entities import start_static_target
from tests.support.live_server import LiveServer, wait_for
from tests.support.receivers import SerialEmulator


def test_adalight_header_matches_the_documented_example():
    # 300 LEDs: count-1 = 299 = 0x012B; checksum 0x01 ^ 0x2B ^ 0x55 = 0x7F.
    assert adalight_frame(b"", 300)[:6] == b"Ada\x01\x2b\x7f"


@pytest.mark.parametrize(("protocol", "baud"), [("ada", 115200), ("awa", 2000000)])
def test_frames_arrive_intact(protocol, baud):
    with SerialEmulator() as emulator:
        device = AdalightDevice(
            name="a", led_count=200, serial_port=emulator.path, baud_rate=baud, protocol=protocol
        )
        driver = AdalightDriver(device, DriverContext())
        frames = [bytes((i + k) % 256 for i in range(600)) for k in range(3)]

        async def run():
            await driver.open()
            for frame in frames:
                driver.send(frame)
                while driver.frames_sent + driver.frames_dropped < frames.index(frame) + 1:
                    await asyncio.sleep(0.005)
            await driver.close()

        asyncio.run(run())
        wait_for(lambda: len(emulator.frames) >= 3, what="three parsed frames")
        assert emulator.bad_frames == 0
        assert emulator.frames == [(protocol, f) for f in frames]


def test_a_missing_port_is_a_clear_driver_error():
    device = AdalightDevice(name="a", led_count=3, serial_port="/dev/ttyLEDGRAB404")
    driver = AdalightDriver(device, DriverContext())
    with pytest.raises(Exception, match="cannot open /dev/ttyLEDGRAB404"):
        asyncio.run(driver.open())


def test_a_running_adalight_target_and_its_wire_cap(tmp_path):
    with (
        SerialEmulator() as emulator,
        LiveServer(tmp_path / "data", demo_on_first_start=False) as live,
        live.client() as c,
    ):
        device = {
            "type": "adalight",
            "name": "a",
            "led_count": 300,
            "serial_port": emulator.path,
            "protocol": "awa",
        }
        target_id, state = start_static_target(c, device, "#0a141e")
        # 115200 baud, 10 bits a byte, 909-byte frames: the line carries about 12.7 fps.
        assert state["fps_effective"] == pytest.approx(115200 / 9090, abs=0.01)
        assert "115200 baud" in state["fps_limit_reason"]
        wait_for(lambda: emulator.frames, what="a frame on the serial line")
        assert emulator.frames[0] == ("awa", bytes([10, 20, 30]) * 300)
        c.post(f"/api/v1/targets/{target_id}/stop")
        wait_for(lambda: emulator.frames[-1][1] == bytes(900), what="the black frame on stop")
