"""The schema-built forms in Chromium at desktop (1280x800) and phone (390x844) size: every
device type and every source kind created through them, messages in words next to the field,
and a parameter change on a running target reaching its preview without Save."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.support.live_server import wait_for

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# The fields each device type needs beyond a name and an LED count (by their form label).
DEVICE_INPUTS = {
    "virtual": {},
    "ws281x": {"Pin": ("select", "13")},
    "adalight": {"Serial port": ("fill", "/dev/ttyUSB0")},
    "wled": {"Address": ("fill", "127.0.0.1")},
    "ddp": {"Address": ("fill", "127.0.0.1")},
    "e131": {"Universe": ("fill", "3")},
}
KINDS = [
    "static",
    "gradient",
    "rainbow",
    "breathing",
    "chase",
    "fire",
    "twinkle",
    "noise",
    "capture",
]


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"forms-{name}.png", full_page=True)


def _field(page, form: str, name: str):
    return page.locator(f"#{form} [name='{name}']")


def _error(page, form: str, name: str):
    box = "xpath=ancestor::div[contains(concat(' ', @class, ' '), ' field ')][1]"
    return _field(page, form, name).locator(box).locator(".field-error")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_every_device_type_and_source_kind_through_the_generated_forms(ui, server, size):
    page = ui.signed_in("/#/devices", VIEWPORTS[size])
    for kind, inputs in DEVICE_INPUTS.items():
        page.get_by_role("button", name="New device").click()
        page.get_by_label("Name", exact=True).fill(f"{kind} {size}")
        page.get_by_label("Type", exact=True).select_option(kind)
        page.get_by_label("LED count").fill("8")
        for label, (how, value) in inputs.items():
            control = page.get_by_label(label, exact=True)
            control.select_option(value) if how == "select" else control.fill(value)
        if kind == "ws281x":
            _shot(page, f"device-ws281x-{size}")
        page.get_by_role("button", name="Create device").click()
        page.locator(f"#device-table tr[data-name='{kind} {size}']").wait_for()
    with server.client() as client:
        made = {d["name"]: d for d in client.get("/api/v1/devices").json()}
    assert made[f"ws281x {size}"]["pin"] == 13 and made[f"ws281x {size}"]["channel"] == 1
    assert made[f"adalight {size}"]["serial_port"] == "/dev/ttyUSB0"
    assert made[f"e131 {size}"]["universe"] == 3

    page.goto(server.base_url + "/#/sources")
    for kind in KINDS:
        page.get_by_role("button", name="New source").click()
        page.get_by_label("Name", exact=True).fill(f"{kind} {size}")
        page.get_by_label("Kind", exact=True).select_option(kind)
        if kind == "gradient":
            stops = page.locator("#source-form .color-list[data-name='p.gradient.colors']")
            stops.get_by_role("button", name="+").click()
            stops.locator("input[type=color]").nth(2).fill("#00ff00")
            _shot(page, f"source-gradient-{size}")
        if kind == "rainbow":
            _field(page, "source-form", "p.rainbow.speed").fill("1.5")
        page.get_by_role("button", name="Create source").click()
        page.locator(f"#source-table tr[data-name='{kind} {size}']").wait_for()
    with server.client() as client:
        made = {s["name"]: s for s in client.get("/api/v1/sources").json()}
    assert made[f"gradient {size}"]["params"]["colors"] == ["#ff0000", "#0000ff", "#00ff00"]
    assert made[f"rainbow {size}"]["params"]["speed"] == 1.5
    assert {made[f"{k} {size}"]["kind"] for k in KINDS} == set(KINDS)


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_messages_in_words_next_to_the_field(ui, server, size):
    page = ui.signed_in("/#/devices", VIEWPORTS[size])
    page.get_by_role("button", name="New device").click()
    page.get_by_label("Name", exact=True).fill("x")
    page.get_by_label("LED count").fill("0")
    _error(page, "device-form", "led_count").filter(
        has_text="LED count must be at least 1"
    ).wait_for()  # as the user types
    page.get_by_role("button", name="Create device").click()  # the browser's check holds it
    page.get_by_label("Type", exact=True).select_option("ddp")
    page.get_by_label("LED count").fill("5")
    page.get_by_label("Address", exact=True).fill("8.8.8.8")
    _error(page, "device-form", "address").filter(
        has_text="does not have the expected form"
    ).wait_for()
    _shot(page, f"device-errors-{size}")
    # A rule between fields only the server checks: its message lands next to the field it names.
    page.get_by_label("Type", exact=True).select_option("e131")
    page.get_by_label("LED count").fill("171")
    page.get_by_label("Address", exact=True).fill("127.0.0.1")
    page.get_by_label("Universe", exact=True).fill("63999")
    page.get_by_role("button", name="Create device").click()
    _error(page, "device-form", "universe").filter(has_text="at most 170 LEDs").wait_for()
    ui.allowed_errors.append("status of 400")  # the refusal whose message is shown
    _shot(page, f"device-universe-error-{size}")
    with server.client() as client:
        assert [d["name"] for d in client.get("/api/v1/devices").json()] == ["Virtual strip"]


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_a_parameter_change_on_a_running_target_shows_in_its_preview_at_once(ui, server, size):
    with server.client() as client:
        device = client.post(
            "/api/v1/devices", json={"type": "virtual", "name": "Strip", "led_count": 4}
        ).json()
        source = client.post(
            "/api/v1/sources",
            json={"kind": "static", "name": "Lamp", "params": {"color": "#102030"}},
        ).json()
        target = client.post(
            "/api/v1/targets",
            json={
                "name": "Lamp on strip",
                "device_id": device["id"],
                "source_id": source["id"],
                "gamma": 1.0,
            },
        ).json()
        assert client.post(f"/api/v1/targets/{target['id']}/start").status_code == 200
    page = ui.signed_in("/#/sources", VIEWPORTS[size])
    page.locator("#source-table tr[data-name='Lamp']").get_by_role("button", name="Edit").click()
    canvas = page.locator("#source-form canvas.strip-preview")
    wait_for(
        lambda: (canvas.get_attribute("data-pixels") or "").startswith("102030"),
        what="the preview of the running target",
    )
    _field(page, "source-form", "p.static.color").fill("#ff8800")  # no Save pressed
    wait_for(
        lambda: (canvas.get_attribute("data-pixels") or "").startswith("ff8800"),
        what="the change in the preview",
    )
    runner = server.app.state.engine.runner(target["id"])
    wait_for(
        lambda: runner.driver.last_frame == bytes.fromhex("ff8800") * 4,
        what="the change on the strip itself",
    )
    _shot(page, f"live-change-{size}")
    with server.client() as client:
        assert client.get(f"/api/v1/sources/{source['id']}").json()["params"]["color"] == "#ff8800"
