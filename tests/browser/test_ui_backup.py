"""Settings → Backup in a real browser: the download is the SQLite database; a file that is not a
backup is refused with the server's message; restoring a backup brings back its state."""

from pathlib import Path


def test_download_refuse_and_restore(ui, server, tmp_path):
    page = ui.signed_in("/#/settings?tab=backup")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download backup").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.name.startswith("ledgrab-") and saved.suffix == ".db"
    assert saved.read_bytes()[:16] == b"SQLite format 3\x00"

    # A device created after the backup is gone once the backup is restored.
    with server.client() as client:
        created = client.post(
            "/api/v1/devices", json={"name": "After backup", "type": "virtual", "led_count": 3}
        )
        assert created.status_code == 201

    ui.allowed_errors.append("status of 400")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n" * 20)
    page.locator("#restore-file").set_input_files(junk)
    page.get_by_role("button", name="Restore…").click()
    page.locator("dialog.confirm").get_by_role("button", name="Restore").click()
    refusal = page.locator("[role=alert]", has_text="not restored")
    refusal.wait_for()
    ui.shot(page, "settings-backup-refused")
    with server.client() as client:
        names = [d["name"] for d in client.get("/api/v1/devices").json()]
    assert "After backup" in names  # the refused upload changed nothing

    page.locator("#restore-file").set_input_files(Path(saved))
    page.get_by_role("button", name="Restore…").click()
    page.locator("dialog.confirm").get_by_role("button", name="Restore").click()
    page.locator("#restore-result").wait_for()
    assert saved.name in page.locator("#restore-result").inner_text()
    with server.client() as client:
        names = [d["name"] for d in client.get("/api/v1/devices").json()]
    assert "After backup" not in names
    ui.shot(page, "settings-backup")
