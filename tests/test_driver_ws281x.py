"""WS281x: rpi_ws281x replaced by a recording fake at its API boundary; /dev/leds0 as a file."""

from __future__ import annotations

import asyncio
import sys
import types

import pytest

from ledgrab.core.devices.base import DriverError
from ledgrab.core.devices.factory import DriverContext
from ledgrab.core.devices.ws281x import Ws281xDriver
from ledgrab.models.devices import Ws281xDevice
from tests.support.entities import start_static_target
from tests.support.live_server import LiveServer, wait_for


class FakePixelStrip:
    """The slice of rpi_ws281x.PixelStrip the driver uses; records what a real strip would get."""

    instances: list = []

    def __init__(self, num, pin, freq_hz, dma, invert, brightness, channel, strip_type):
        self.args = dict(
            num=num,
            pin=pin,
            freq_hz=freq_hz,
            dma=dma,
            invert=invert,
            channel=channel,
            strip_type=strip_type,
        )
        self.pixels = [0] * num
        self.shown: list[list[int]] = []
        self.began = False
        FakePixelStrip.instances.append(self)

    def begin(self):
        self.began = True

    def setPixelColor(self, index, color):
        self.pixels[index] = color

    def show(self):
        assert self.began, "show() before begin()"
        self.shown.append(list(self.pixels))


@pytest.fixture
def fake_rpi(monkeypatch, tmp_path):
    FakePixelStrip.instances = []
    module = types.ModuleType("rpi_ws281x")
    module.PixelStrip = FakePixelStrip
    monkeypatch.setitem(sys.modules, "rpi_ws281x", module)
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\0")
    return DriverContext(leds_dev_dir=str(tmp_path / "dev"), board_model_path=str(model))


def _run(driver, frames):
    async def run():
        await driver.open()
        for frame in frames:
            driver.send(frame)
            while driver.frames_sent + driver.frames_dropped < frames.index(frame) + 1:
                await asyncio.sleep(0.002)
        await driver.close()

    asyncio.run(run())


def test_rpi_ws281x_gets_one_word_per_led(fake_rpi):
    device = Ws281xDevice(name="w", led_count=3, pin=13)
    _run(Ws281xDriver(device, fake_rpi), [bytes([1, 2, 3, 4, 5, 6, 7, 8, 9])])
    (strip,) = FakePixelStrip.instances
    assert strip.args["channel"] == 1 and strip.args["dma"] == 10 and strip.args["pin"] == 13
    assert strip.shown == [[0x010203, 0x040506, 0x070809]]


def test_rgbw_words_carry_white_in_the_top_byte(fake_rpi):
    device = Ws281xDevice(name="w", led_count=2, rgbw=True)
    _run(Ws281xDriver(device, fake_rpi), [bytes([1, 2, 3, 0xAA, 4, 5, 6, 0xBB])])
    assert FakePixelStrip.instances[0].shown == [[0xAA010203, 0xBB040506]]


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        (b"Raspberry Pi 5 Model B Rev 1.0\0", "does not support the Raspberry Pi 5"),
        (b"Generic x86 box", "not a Raspberry Pi"),
    ],
)
def test_boards_without_rpi_ws281x_get_a_clear_error_and_no_strip(
    fake_rpi, tmp_path, model, needle
):
    (tmp_path / "model").write_bytes(model)
    driver = Ws281xDriver(Ws281xDevice(name="w", led_count=3), fake_rpi)
    with pytest.raises(DriverError, match=needle):
        asyncio.run(driver.open())
    assert FakePixelStrip.instances == []  # never constructed where it cannot begin


def test_leds_dev_takes_rgbw_bytes_in_rgb_order(fake_rpi, tmp_path):
    (tmp_path / "dev").mkdir()
    leds = tmp_path / "dev" / "leds0"
    leds.write_bytes(b"")
    device = Ws281xDevice(name="w", led_count=2)  # color_order grb: the wire frame is G, R, B
    driver = Ws281xDriver(device, fake_rpi)
    _run(driver, [bytes([20, 10, 30, 50, 40, 60])])
    assert driver.backend == "leds_dev"
    assert leds.read_bytes() == bytes([10, 20, 30, 0, 40, 50, 60, 0])
    assert FakePixelStrip.instances == []


def test_missing_leds_dev_names_the_overlay(fake_rpi):
    device = Ws281xDevice(name="w", led_count=8, backend="leds_dev")
    with pytest.raises(DriverError, match="dtoverlay=ws2812-pio"):
        asyncio.run(Ws281xDriver(device, fake_rpi).open())


def test_a_ws281x_target_on_a_pi5_style_leds_file(tmp_path):
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "leds0").write_bytes(b"")
    engine = {"leds_dev_dir": str(dev)}
    with (
        LiveServer(tmp_path / "data", demo_on_first_start=False, engine=engine) as live,
        live.client() as c,
    ):
        device = {"type": "ws281x", "name": "w", "led_count": 3}
        target_id, state = start_static_target(c, device, "#102030")
        assert state["fps_effective"] == 120  # 3 LEDs: the line allows far more
        wait_for(
            lambda: (dev / "leds0").read_bytes() == bytes([16, 32, 48, 0]) * 3,
            what="the frame in /dev/leds0",
        )
        c.post(f"/api/v1/targets/{target_id}/stop")
        wait_for(lambda: (dev / "leds0").read_bytes() == bytes(12), what="black on stop")
