"""A degraded component of /health is named, with its reason, in a banner under the top bar on
every page; a healthy server shows none. Degraded here the way a board can be: the frame pacer
process keeps dying (a program that exits at once), so network frames are no longer paced."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.entities import start_static_target
from tests.support.live_server import wait_for

DEVICE = {"type": "ddp", "name": "Desk", "address": "127.0.0.1", "port": 4048, "led_count": 3}


def test_a_degraded_component_is_named_with_its_reason_on_every_page(ui, server, tmp_path):
    dashboard = ui.signed_in("/#/")
    dashboard.locator('#health-banner[data-read="yes"]').wait_for(state="attached")
    expect(dashboard.locator("#health-banner")).to_be_hidden()

    dies = tmp_path / "dies.py"
    dies.write_text("raise SystemExit(1)\n")
    pacer = server.app.state.engine.pacer
    pacer._program = dies
    pacer.on_demand = False  # every frame through it, so the target's first open tries it
    with server.client() as client:
        start_static_target(client, DEVICE, "#00ff00", name="Desk")
    wait_for(lambda: pacer.given_up, what="the pacer given up")

    for path in ("/#/", "/#/targets"):
        page = ui.signed_in(path)
        banner = page.locator("#health-banner")
        expect(banner).to_be_visible()
        line = banner.locator('p[data-component="frame_pacer"]')
        expect(line).to_contain_text("frame pacer")
        expect(line).to_contain_text("network frames go from the frame thread until LedGrab")
    ui.shot(page, "health-banner-frame-pacer")
