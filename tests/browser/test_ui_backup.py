"""Settings → Backup in a real browser: automatic backups onto a directory, a download, a refused
upload that changes nothing, and restores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledgrab.core.backup.auto_backup import PREFIX
from tests.support.db_files import activity_rows
from tests.support.live_server import wait_for


def _ours(dest):
    return sorted(p.name for p in dest.glob(f"{PREFIX}*.db"))


def test_turn_on_automatic_backups_and_back_up_now(ui, server, tmp_path):
    dest = tmp_path / "usb"
    dest.mkdir()
    page = ui.signed_in("/#/settings?tab=backup")
    form = page.locator("#auto-backup-form")
    form.wait_for()
    assert "USB stick" in form.inner_text()
    form.get_by_label("Destination directory").fill(str(dest))
    form.get_by_label("Keep the newest (backups)").fill("2")
    form.get_by_label("Back up automatically").check()
    form.get_by_role("button", name="Save").click()
    wait_for(lambda: _ours(dest), what="the first automatic backup")
    config = server.app.state.db.get_setting_blocking("backup.auto")
    assert config["enabled"] is True and config["keep"] == 2
    assert config["destination"] == str(dest)

    for _ in range(2):
        form = page.locator("#auto-backup-form")
        before = _ours(dest)
        form.get_by_role("button", name="Back up now").click()
        wait_for(lambda before=before: _ours(dest) != before, what="a backup made from the UI")
    page.locator('#auto-backup-state [data-auto-state="ok"]').wait_for()
    # The new file appears before it is checked and the oldest pruned: wait for keep = 2.
    wait_for(lambda: len(_ours(dest)) == 2, what="the oldest backup pruned (keep 2)")
    kept = _ours(dest)
    page.locator(f'.auto-backups [data-name="{kept[-1]}"]').wait_for()
    ui.shot(page, "settings-auto-backup")


def test_the_schedule_and_size_are_in_minutes_and_mib_and_saved_in_the_apis_units(
    ui, server, tmp_path
):
    dest = tmp_path / "usb"
    dest.mkdir()
    page = ui.signed_in("/#/settings?tab=backup")
    form = page.locator("#auto-backup-form")
    form.wait_for()
    every = form.get_by_label("Every (minutes)")
    at_most = form.get_by_label("Keep at most (MiB)")
    assert every.input_value() == "1440"  # the default day, not 86400 seconds
    assert at_most.input_value() == "1024"  # 1 GiB, not 1073741824 bytes
    every_field = form.locator("[name=interval_s]").locator("xpath=..")
    assert "Allowed: 1 to 43200" in every_field.inner_text()
    form.get_by_label("Destination directory").fill(str(dest))
    every.fill("90")
    at_most.fill("256")
    form.get_by_role("button", name="Save").click()
    wait_for(
        lambda: (
            (server.app.state.db.get_setting_blocking("backup.auto") or {}).get("interval_s")
            == 5400
        ),
        what="the schedule saved in seconds",
    )
    config = server.app.state.db.get_setting_blocking("backup.auto")
    assert config["max_bytes"] == 256 * 1024 * 1024
    page.locator("#auto-backup-form").get_by_label("Every (minutes)").wait_for()
    wait_for(
        lambda: (
            page.locator("#auto-backup-form").get_by_label("Every (minutes)").input_value() == "90"
        ),
        what="the form shown again in minutes",
    )
    every = page.locator("#auto-backup-form").get_by_label("Every (minutes)")
    every.fill("0.5")  # 30 s: below the 60 s the API allows
    error = (
        page.locator("#auto-backup-form [name=interval_s]")
        .locator("xpath=..")
        .locator(".field-error")
    )
    error.filter(has_text="must be at least 1").wait_for()
    ui.shot(page, "settings-auto-backup-units")


def test_a_missing_destination_shows_the_servers_message(ui, tmp_path):
    page = ui.signed_in("/#/settings?tab=backup")
    form = page.locator("#auto-backup-form")
    form.wait_for()
    form.get_by_label("Destination directory").fill(str(tmp_path / "not-mounted"))
    form.get_by_label("Back up automatically").check()
    form.get_by_role("button", name="Save").click()
    message = form.locator(".field-error").filter(has_text="does not exist")
    message.wait_for()
    ui.allowed_errors.append("status of 400")


def test_restore_from_the_browser_names_the_file_in_the_log(ui, server, tmp_path):
    with server.client() as client:
        backup = tmp_path / "kitchen-setup.db"
        backup.write_bytes(client.get("/api/v1/system/backup").content)
        client.post("/api/v1/system/api-keys", json={"label": "later"})
    page = ui.signed_in("/#/settings?tab=backup")
    page.locator("#restore-file").set_input_files(str(backup))
    page.get_by_role("button", name="Restore…").click()
    page.locator("dialog.confirm").get_by_role("button", name="Restore").click()
    wait_for(
        lambda: activity_rows(server.app.state.db, "action = 'restore.completed'"),
        what="the restore entry",
    )
    (entry,) = activity_rows(server.app.state.db, "action = 'restore.completed'")
    assert "kitchen-setup.db" in entry[4] and entry[3] == "admin"
    conn = sqlite3.connect(server.data_dir / "ledgrab.db")
    assert [r[0] for r in conn.execute("SELECT label FROM api_keys ORDER BY label")] == ["admin"]
    conn.close()


def test_another_browser_redraws_after_a_restore(ui, server, tmp_path):
    with server.client() as client:
        backup = client.get("/api/v1/system/backup").content
        client.post("/api/v1/system/api-keys", json={"label": "later"})
    page = ui.signed_in("/#/settings?tab=keys")
    page.locator('.key-list [data-label="later"]').wait_for()
    with server.client() as client:
        assert client.post("/api/v1/system/restore", content=backup).status_code == 200
    # no reload by the user: the database_restored event redraws the page from the new file
    page.locator('.key-list [data-label="later"]').wait_for(state="detached")
    page.locator('.key-list [data-label="admin"]').wait_for()


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
