"""The server's lifespan: started/shutting_down entries, nothing lost at shutdown, settings kept."""

from __future__ import annotations

import threading

import msgspec

from ledgrab.core.activity_log.recorder import get_module_recorder
from ledgrab.core.activity_log.settings import SETTINGS_KEY, ActivityLogSettings
from ledgrab.storage.database import Database
from tests.activity.helpers import rows
from tests.support.live_server import LiveServer


def test_shutdown_loses_nothing_and_shutting_down_comes_before_the_close(tmp_path):
    data = tmp_path / "data"
    with LiveServer(data) as server:
        recorder = server.app.state.activity_recorder
        assert get_module_recorder() is recorder

        def burst() -> None:
            for i in range(3000):
                recorder.record("device", "device.discovered", message=str(i))

        thread = threading.Thread(target=burst)
        thread.start()
        thread.join()
        with server.client(key=None) as client:
            health = client.get("/health").json()["components"]["activity_log"]
        assert health["state"] == "ok"
        assert "pending" in health["details"]
    assert get_module_recorder().active is False
    actions = [a for _, a in rows(data / "ledgrab.db")]
    assert actions.index("server.started") < actions.index("device.discovered")
    assert actions[-1] == "server.shutting_down"
    assert actions.count("device.discovered") == 3000


def test_a_start_is_on_disk_once_the_server_serves(tmp_path):
    """With the default 5 s batch window, the startup entries still get a commit of their own:
    another connection reads them before anything else happens."""
    data = tmp_path / "data"
    with LiveServer(data) as server:
        assert server.app.state.activity_recorder.settings.commit_interval_s == 5
        actions = [a for _, a in rows(data / "ledgrab.db")]
        assert actions[-1] == "server.started"
        assert "system.setup" in actions and "target.started" in actions


def test_settings_survive_a_restart_enabled_included(tmp_path):
    data = tmp_path / "data"
    wanted = ActivityLogSettings(enabled=False, max_days=7, commit_interval_s=30, max_batch=99)
    with LiveServer(data) as server:
        db: Database = server.app.state.db
        db.write_blocking(Database.put_setting, SETTINGS_KEY, msgspec.to_builtins(wanted))
    first_run = [a for _, a in rows(data / "ledgrab.db")]
    assert "server.started" in first_run
    with LiveServer(data) as server:
        recorder = server.app.state.activity_recorder
        assert recorder.settings == wanted
        assert server.app.state.activity_retention.settings == wanted
        assert recorder.record("system", "x.y", message="while disabled") is None
    # The second run was disabled from its first moment: no started/shutting_down entries.
    assert [a for _, a in rows(data / "ledgrab.db")] == first_run


def test_a_stored_value_out_of_bounds_falls_back_to_its_default(tmp_path):
    data = tmp_path / "data"
    with LiveServer(data) as server:
        server.app.state.db.write_blocking(
            Database.put_setting, SETTINGS_KEY, {"max_days": -5, "max_batch": 42}
        )
    with LiveServer(data) as server:
        settings = server.app.state.activity_recorder.settings
        assert settings.max_days == ActivityLogSettings().max_days
        assert settings.max_batch == 42
