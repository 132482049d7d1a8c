"""The Activity tab proves the log in a real browser: "verified up to #N" with the key's
fingerprint, the latest signed checkpoint as a download, and a red banner once a row is edited."""

from __future__ import annotations

from ledgrab.core.activity_log.signing import PUBLIC_KEY_FILE, open_note, parse_public_key
from tests.activity.chain_helpers import sql


def test_verified_up_to_the_head_then_a_red_banner_after_tampering(ui, server, tmp_path):
    with server.client() as client:  # every commit signs its head
        settings = client.put("/api/v1/activity/settings", json={"checkpoint_interval_s": 0})
        assert settings.status_code == 200, settings.text
    recorder = server.app.state.activity_recorder
    for i in range(30):
        recorder.record("system", "test.entry", message=f"entry {i}")
    recorder.flush_blocking()
    with server.client() as client:
        head = client.get("/api/v1/activity/chain").json()["head"]["seq"]
    key = server.app.state.activity.key
    page = ui.signed_in("/#/activity")
    status = page.locator("#chain-status")
    status.filter(has_text="Verified up to").wait_for()
    shown = int(status.inner_text().split("#")[1].split()[0].replace(",", ""))
    assert shown >= head  # the check commits what waits, so it may cover an entry or two more
    assert key.public.fingerprint[:16] in page.locator("#chain-key").inner_text()
    assert page.locator("#chain-banner").is_hidden()
    ui.shot(page, "activity-verified")

    with page.expect_download() as waiting:
        page.locator("#chain-checkpoint").click()
    saved = tmp_path / "checkpoint.txt"
    waiting.value.save_as(saved)
    public = parse_public_key((server.data_dir / PUBLIC_KEY_FILE).read_text())
    lines = open_note(saved.read_text(), [public]).lines
    assert lines[0] == key.origin and int(lines[1]) >= head

    sql(server.app.state.db.path, ("UPDATE activity_log SET message = 'edited' WHERE seq = 12",))
    page.locator("#chain-verify").click()
    banner = page.locator("#chain-banner")
    banner.wait_for(state="visible")
    assert "FAILED at seq 12" in banner.inner_text() and "content changed" in banner.inner_text()
    ui.shot(page, "activity-chain-broken")
