"""The events feed survives a server restart: the page says it is reconnecting, comes back live
on its own (backoff), and shows changes made after the restart without a reload."""

from tests.support.live_server import LiveServer


def test_feed_reconnects_after_the_server_restarts(ui, server):
    page = ui.signed_in("/#/devices")
    page.locator("#device-table").wait_for()
    port, data_dir = server.port, server.data_dir

    server.stop()
    page.locator("#feed-status.reconnecting").wait_for()
    # While the server is down, requests fail: the page must not break on them.
    ui.allowed_errors.append("ERR_CONNECTION_REFUSED")

    restarted = LiveServer(data_dir).start(port)
    try:
        page.locator("#feed-status.live").wait_for(timeout=30_000)
        with restarted.client() as client:
            made = client.post(
                "/api/v1/devices",
                json={"name": "Made after restart", "type": "virtual", "led_count": 4},
            )
            assert made.status_code == 201
        # Delivered by the new socket: the list refreshes on the entity event, no reload.
        page.locator("#device-table tr[data-name='Made after restart']").wait_for()
        ui.close()
    finally:
        restarted.stop()
