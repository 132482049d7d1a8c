"""The Devices page's status column says what is known: a silent DDP receiver is "sending, no
confirmation" in a neutral colour (not a green "online"), one at a port where nothing listens is
offline with its reason as visible text, and the Dashboard says the same."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.support.live_server import LiveServer


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    health = {"enabled": True, "interval_s": 0.2, "max_interval_s": 0.5, "timeout_s": 1.0}
    with LiveServer(tmp_path / "data", health=health) as live:
        yield live


def _colour(locator) -> str:
    return locator.evaluate("el => getComputedStyle(el).color")


def test_the_status_column_tells_unconfirmed_from_offline_and_online(ui, server):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        with server.client() as client:
            for name, port in (("Shelf", silent.getsockname()[1]), ("Gone", closed_port)):
                body = {"name": name, "type": "ddp", "led_count": 10, "address": "127.0.0.1",
                        "port": port}  # fmt: skip
                assert client.post("/api/v1/devices", json=body).status_code == 201
        page = ui.signed_in("/#/devices")
        table = page.locator("#device-table")
        shelf = table.locator('tr[data-name="Shelf"] [data-role="health"]')
        shelf.filter(has_text="sending, no confirmation").wait_for()
        gone = table.locator('tr[data-name="Gone"]')
        gone.locator('[data-role="health"]', has_text="offline").wait_for()
        reason = gone.locator('[data-role="reason"]')
        assert f"nothing receives DDP on port {closed_port}" in reason.inner_text()
        assert reason.is_visible()
        virtual = table.locator('tr[data-name="Virtual strip"] [data-role="health"]')
        virtual.filter(has_text="online").wait_for()
        colours = {_colour(shelf), _colour(virtual), _colour(gone.locator('[data-role="health"]'))}
        assert len(colours) == 3  # neutral, green, and the offline colour: three different ones
        ui.shot(page, "devices-status")

        page.goto(server.base_url + "/#/")
        dash = page.locator("#dash-device-list .list-item", has_text="Shelf")
        dash.locator('[data-role="health"]', has_text="sending, no confirmation").wait_for()
        dash_gone = page.locator("#dash-device-list .list-item", has_text="Gone")
        assert "nothing receives DDP" in dash_gone.locator('[data-role="reason"]').inner_text()
    finally:
        silent.close()
