"""The Dashboard's brightness slider: dragging it dims the live preview at once, and letting go
stores the value with one activity entry (not one per step); blackout and start-all buttons."""

from __future__ import annotations

from tests.support.entities import start_static_target
from tests.support.live_server import wait_for


def _lamp(server) -> str:
    with server.client() as client:
        device = {"name": "Lamp", "type": "virtual", "led_count": 8}
        target_id, state = start_static_target(client, device, "#808080", name="Lamp")
        assert state["running"]
        return target_id


def test_a_brightness_drag_dims_the_preview_and_makes_one_entry(ui, server):
    target_id = _lamp(server)
    page = ui.signed_in("/#/")
    row = page.locator(f'#dash-target-list [data-id="{target_id}"]')
    canvas = row.locator("canvas")
    wait_for(lambda: canvas.get_attribute("data-pixels") == "80" * 24, what="the full preview")
    previews: list[str] = []
    page.on("request", lambda r: previews.append(r.url) if "brightness-preview" in r.url else None)

    slider = row.get_by_label("Brightness of Lamp")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] - 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=12)
    page.mouse.up()

    wait_for(
        lambda: (canvas.get_attribute("data-pixels") or "80")[:2] not in ("80", ""),
        what="a dimmer preview",
    )
    with server.client() as client:
        stored = wait_for(
            lambda: (
                (b := client.get(f"/api/v1/targets/{target_id}").json()["brightness"]) < 1 and b
            ),
            what="the brightness stored on release",
        )
        assert 0.3 < stored < 0.7
        updates = [
            e
            for e in client.get("/api/v1/activity", params={"entity_id": target_id}).json()["items"]
            if e["action"] == "target.updated"
        ]
    assert len(previews) >= 2  # applied while dragging…
    assert len(updates) == 1, updates  # …recorded once, on release
    assert {k: v for k, v in updates[0]["metadata"].items() if k != "clock"} == {
        "fields": ["brightness"]
    }
    ui.shot(page, "dashboard-brightness")

    page.get_by_role("button", name="Blackout all").click()
    row.locator('[data-role="state"]', has_text="stopped").wait_for()
    page.get_by_role("button", name="Start all auto-start").click()
    demo = page.locator("#dash-target-list .target", has_text="Demo")
    demo.locator('[data-role="state"]', has_text="running").wait_for()
    assert row.locator('[data-role="state"]').inner_text() == "stopped"  # Lamp is not auto-start
