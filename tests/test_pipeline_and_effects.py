"""Colour pipeline (brightness+gamma, order, RGBW), wire fps caps, and the effects' contracts."""

from __future__ import annotations

import pytest

from ledgrab.core.effects.base import FedSource
from ledgrab.core.effects.registry import SOURCE_KINDS, build_source, decode_params
from ledgrab.core.processing.pipeline import Pipeline, brightness_table, wire_fps_limit
from ledgrab.models.devices import AdalightDevice, DdpDevice, Ws281xDevice


def test_brightness_table_matches_the_formula():
    table = brightness_table(0.5, 2.2)
    for v in (0, 1, 64, 128, 200, 255):
        assert table[v] == round(255 * (v / 255) ** 2.2 * 0.5)
    assert brightness_table(1.0, 1.0) == bytes(range(256))


@pytest.mark.parametrize(
    ("order", "expected"),
    [("rgb", [10, 20, 30]), ("grb", [20, 10, 30]), ("bgr", [30, 20, 10]), ("gbr", [20, 30, 10])],
)
def test_color_order(order, expected):
    pipe = Pipeline(2, brightness=1.0, gamma=1.0, order=order, rgbw=False)
    assert list(pipe.apply(bytes([10, 20, 30, 1, 2, 3]))) == expected + [
        [1, 2, 3][i] for i in ([0, 1, 2].index(x) for x in _perm(order))
    ]


def _perm(order):
    return ["rgb".index(c) for c in order]


def test_rgbw_takes_the_shared_white():
    pipe = Pipeline(3, brightness=1.0, gamma=1.0, order="grb", rgbw=True)
    out = pipe.apply(bytes([200, 100, 50, 0, 0, 0, 255, 255, 255]))
    assert list(out) == [50, 150, 0, 50, 0, 0, 0, 0, 0, 0, 0, 255]


def test_wire_caps():
    ws = Ws281xDevice(name="w", led_count=300)
    fps, reason = wire_fps_limit(ws)
    assert fps == pytest.approx(1 / (300 * 24 * 1.25e-6 + 300e-6))
    assert "WS281x" in reason
    ada = AdalightDevice(name="a", led_count=300, serial_port="/dev/ttyUSB0", baud_rate=115200)
    fps, reason = wire_fps_limit(ada)
    assert fps == pytest.approx(115200 / (10 * (6 + 900)))
    assert "115200 baud" in reason
    assert wire_fps_limit(DdpDevice(name="d", led_count=300, address="10.0.0.2")) == (None, None)


@pytest.mark.parametrize("kind", sorted(set(SOURCE_KINDS) - {"capture"}))
def test_every_effect_is_deterministic_and_sized(kind):
    params = decode_params(kind, {})
    a, b = build_source(kind, params), build_source(kind, params)
    for led_count in (1, 7, 300):
        for t in (0.0, 0.37, 12.5):
            frame = a.render(t, led_count)
            assert len(frame) == led_count * 3
            assert frame == b.render(t, led_count)


@pytest.mark.parametrize("kind", ["gradient", "rainbow", "breathing", "chase", "fire", "noise"])
def test_moving_effects_change_over_time(kind):
    source = build_source(kind, decode_params(kind, {"speed": 1.0} if kind != "breathing" else {}))
    frames = {bytes(source.render(t / 10, 60)) for t in range(20)}
    assert len(frames) > 5


def test_rainbow_covers_the_hue_wheel_once_per_cycle():
    source = build_source("rainbow", decode_params("rainbow", {"cycles": 1.0, "speed": 0.0}))
    frame = source.render(0.0, 6)
    pixels = [tuple(frame[i : i + 3]) for i in range(0, 18, 3)]
    assert pixels[0] == (255, 0, 0)
    assert pixels[2] == (0, 255, 0)
    assert pixels[4] == (0, 0, 255)


def test_chase_head_moves_by_speed():
    source = build_source(
        "chase", decode_params("chase", {"speed": 10.0, "tail": 1.0, "color": "#ffffff"})
    )
    lit = lambda f: [i for i in range(len(f) // 3) if f[i * 3] > 200]  # noqa: E731
    assert lit(source.render(0.0, 40)) != lit(source.render(0.5, 40))
    head0 = lit(source.render(0.0, 40))[0]
    assert lit(source.render(0.5, 40))[0] == (head0 + 5) % 40


def test_fed_source_fits_and_keeps_the_newest_frame():
    fed = FedSource()
    assert fed.render(0, 2) == bytes(6)
    fed.feed(b"\x01\x02\x03")
    fed.feed(b"\x09\x08\x07\x06\x05\x04\x03\x02\x01")
    assert fed.render(0, 2) == b"\x09\x08\x07\x06\x05\x04"
    assert fed.frames_fed == 2


def test_params_out_of_range_are_refused():
    with pytest.raises(ValueError, match="cycles"):
        decode_params("rainbow", {"cycles": 0})
    with pytest.raises(ValueError, match="unknown source kind"):
        decode_params("plasma", {})
