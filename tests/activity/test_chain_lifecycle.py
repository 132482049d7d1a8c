"""Clearing, retention, restores and exports keep a log that verifies, on the live server."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from ledgrab.cli import main
from ledgrab.core.activity_log.retention import RetentionEngine
from ledgrab.core.activity_log.settings import ActivityLogSettings
from ledgrab.core.activity_log.signing import KEY_FILE, PUBLIC_KEY_FILE, DeviceKey
from ledgrab.core.activity_log.verify import verify_database
from ledgrab.core.activity_log.verify_export import verify_export
from tests.activity.chain_helpers import build_signed_log, checkpoint_note, sql
from tests.support.live_server import wait_for


def _record(server, n: int, prefix: str = "entry") -> None:
    recorder = server.app.state.activity_recorder
    for i in range(n):
        recorder.record("system", "test.entry", message=f"{prefix} {i}", metadata={"i": i})
    recorder.flush_blocking()


def _seqs(path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT seq FROM activity_log ORDER BY seq")]
    finally:
        conn.close()


def _verify(server):
    return verify_database(server.app.state.db.path, keys=[server.app.state.activity.key.public])


def test_a_clear_keeps_the_chain_going_and_is_its_first_entry(server):
    _record(server, 30)
    before = _seqs(server.app.state.db.path)
    with server.client() as client:
        assert client.delete("/api/v1/activity").status_code == 204
        _record(server, 5, "after")
        state = client.get("/api/v1/activity/chain").json()
    after = _seqs(server.app.state.db.path)
    # dense and monotonic across the clear: nothing restarts at 1
    assert after == list(range(before[-1] + 1, before[-1] + 7))
    assert state["anchor"]["first_seq"] == after[0] and state["anchor"]["reason"] == "clear"
    assert state["anchor"]["removed"] == len(before)
    result = _verify(server)
    assert result.ok, result.summary()
    assert result.anchored == "clear" and result.first_seq == after[0]
    # hiding the clear (deleting its record) is found
    sql(server.app.state.db.path, ("DELETE FROM activity_log WHERE seq = ?", (after[0],)))
    assert _verify(server).failure.seq == after[0]


def test_retention_leaves_a_signed_anchor_and_a_verifying_log(tmp_path):
    path, key = build_signed_log(tmp_path / "data", entries=1500, per_commit=500)
    from ledgrab.storage.database import Database

    db = Database(path)
    db.open()
    try:
        recorder = type("R", (), {"signer": key, "record": lambda *a, **k: None})()
        engine = RetentionEngine(db, recorder, ActivityLogSettings(max_entries=1000))
        removed = db.write_blocking(engine.write_pending)
    finally:
        db.close()
    assert removed == {"max_entries": 500}
    assert _seqs(path)[0] == 501
    result = verify_database(path, keys=[key.public])
    assert result.ok, result.summary()
    assert (result.anchored, result.first_seq, result.entries) == ("max_entries", 501, 1000)
    conn = sqlite3.connect(path)
    anchor = conn.execute("SELECT removed, reason FROM activity_anchors WHERE first_seq = 501")
    assert anchor.fetchone() == (500, "max_entries")
    conn.close()


def test_exports_verify_exactly_like_their_database(server, tmp_path):
    _record(server, 700)
    db_result = _verify(server)
    assert db_result.ok
    with server.client() as client:
        checkpoint = client.get("/api/v1/activity/checkpoint")
        assert checkpoint.status_code == 200
        server.app.state.activity_recorder.flush_blocking()
        cp_file = tmp_path / "checkpoint.txt"
        cp_file.write_text(checkpoint.text)
        for fmt in ("json", "ndjson", "csv"):
            body = client.get("/api/v1/activity/export", params={"format": fmt}).content
            export = tmp_path / f"export.{fmt}"
            export.write_bytes(body)
            result = verify_export(export, keys=[server.app.state.activity.key.public])
            assert result.ok, (fmt, result.summary())
            assert (result.entries, result.first_seq, result.last_seq, result.head_chain) == (
                db_result.entries,
                db_result.first_seq,
                db_result.last_seq,
                db_result.head_chain,
            )
    # A changed entry in the export is found at its seq, as it would be in the database.
    entries = json.loads((tmp_path / "export.json").read_text())
    entries[10]["message"] = "edited"
    (tmp_path / "edited.json").write_text(json.dumps(entries))
    edited = verify_export(tmp_path / "edited.json")
    assert not edited.ok and edited.failure.seq == entries[10]["seq"]
    assert "content changed" in edited.failure.reason


def test_the_key_stays_out_of_backups_and_exports(server, tmp_path):
    pem = (server.data_dir / KEY_FILE).read_bytes()
    assert (server.data_dir / KEY_FILE).stat().st_mode & 0o777 == 0o600
    private_b64 = b"".join(pem.splitlines()[1:-1])
    with server.client() as client:
        backup = client.get("/api/v1/system/backup").content
        export = client.get("/api/v1/activity/export", params={"format": "json"}).content
        state = client.get("/api/v1/activity/chain").json()
    assert private_b64 not in backup and private_b64 not in export
    assert state["public_key"] == (server.data_dir / PUBLIC_KEY_FILE).read_text().strip()
    assert state["fingerprint"] == server.app.state.activity.key.public.fingerprint


def test_a_restore_verifies_the_upload_and_records_the_head_it_replaced(server, tmp_path):
    _record(server, 50, "before backup")
    with server.client() as client:
        backup = tmp_path / "backup.db"
        backup.write_bytes(client.get("/api/v1/system/backup").content)
        _record(server, 40, "lost by going back")
        replaced = client.get("/api/v1/activity/chain").json()["head"]
        restored = client.post(
            "/api/v1/system/restore", params={"name": "backup.db"}, content=backup.read_bytes()
        )
        assert restored.status_code == 200, restored.text
        server.app.state.activity_recorder.flush_blocking()
    conn = sqlite3.connect(server.app.state.db.path)
    first_new = conn.execute(
        "SELECT action, metadata FROM activity_log WHERE seq > (SELECT max(seq) FROM "
        "activity_log WHERE message = 'before backup 49') ORDER BY seq LIMIT 1"
    ).fetchone()
    conn.close()
    assert first_new[0] == "restore.replaced_chain"
    meta = json.loads(first_new[1])
    assert meta["replaced_seq"] >= replaced["seq"]
    result = _verify(server)
    assert result.ok, result.summary()


def test_a_broken_upload_is_refused_naming_the_seq_unless_forced(server, tmp_path):
    _record(server, 20)
    with server.client() as client:
        backup = tmp_path / "backup.db"
        backup.write_bytes(client.get("/api/v1/system/backup").content)
        sql(backup, ("UPDATE activity_log SET message = 'rewritten' WHERE seq = 7",))
        refused = client.post("/api/v1/system/restore", content=backup.read_bytes())
        assert refused.status_code == 400
        assert refused.json()["extra"]["reason"] == "chain_broken"
        assert "seq 7" in refused.json()["detail"] and "content changed" in refused.json()["detail"]
        forced = client.post(
            "/api/v1/system/restore", params={"force": "true"}, content=backup.read_bytes()
        )
        assert forced.status_code == 200, forced.text
        server.app.state.activity_recorder.flush_blocking()
        critical = client.get("/api/v1/activity", params={"severity": "critical"}).json()
    [entry] = [e for e in critical["items"] if e["action"] == "restore.unverified"]
    assert "seq 7" in entry["message"] and "content changed" in entry["message"]


def test_background_verification_reports_progress_and_a_failure_as_critical(server):
    _record(server, 100)
    with server.client() as client:
        status = client.get("/api/v1/activity/verify", params={"run": "true"}).json()
        assert status["state"] in ("running", "done")
        done = wait_for(
            lambda: (s := client.get("/api/v1/activity/verify").json())["state"] == "done" and s,
            what="verification",
        )
        assert done["result"]["ok"] and done["checked"] == done["total"] > 100
        assert done["summary"].startswith(f"verified {done['total']:,} entries")
        sql(server.app.state.db.path, ("UPDATE activity_log SET actor = 'x' WHERE seq = 42",))
        client.get("/api/v1/activity/verify", params={"run": "true"})
        failed = wait_for(
            lambda: (
                (s := client.get("/api/v1/activity/verify").json())["state"] == "done"
                and s["result"]
                and not s["result"]["ok"]
                and s
            ),
            what="the failed verification",
        )
        assert failed["result"]["failure"]["seq"] == 42
        server.app.state.activity_recorder.flush_blocking()
        critical = client.get("/api/v1/activity", params={"severity": "critical"}).json()
    assert any(e["action"] == "activity.verify_failed" for e in critical["items"])


@pytest.mark.parametrize("tamper", [False, True])
def test_ledgrab_verify_exit_codes(tmp_path, capsys, tamper):
    path, _key = build_signed_log(tmp_path / "data", entries=120)
    if tamper:
        sql(path, ("UPDATE activity_log SET ts = ts + 1 WHERE seq = 99",))
    code = main(["verify", "--data-dir", str(tmp_path / "data")])
    out = capsys.readouterr().out.strip()
    if tamper:
        assert code == 1 and out.startswith("FAILED at seq 99: content changed")
    else:
        assert code == 0 and out.startswith("verified 120 entries, seq 1..120, anchored (start)")


def test_a_backup_from_another_device_or_from_before_the_chain_verifies_once_restored(tmp_path):
    from ledgrab.storage.data_migrations import MIGRATIONS, migrate
    from tests.support.live_server import LiveServer

    other, other_key = build_signed_log(tmp_path / "other", entries=60)
    old = tmp_path / "before-chain.db"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, [m for m in MIGRATIONS if m.version <= 4])
    conn.executemany(
        "INSERT INTO activity_log (id, ts, category, action, severity, actor, message, metadata) "
        "VALUES (?, ?, 'system', 'x.y', 'info', 'a', ?, '{}')",
        [(f"{i:020x}", 10**15 + i, f"old {i}") for i in range(50)],
    )
    conn.close()
    # A key from the configuration survives restoring files that hold other keys.
    key = "restore-test-key-0123456789abcdef"
    with (
        LiveServer(tmp_path / "data", environ={"LEDGRAB_API_KEYS": f"t:{key}"}) as server,
        server.client(key) as client,
    ):
        own = server.app.state.activity.key.public
        for upload, keys in ((other, [own, other_key.public]), (old, [own])):
            restored = client.post("/api/v1/system/restore", content=upload.read_bytes())
            assert restored.status_code == 200, restored.text
            _record(server, 3, "after restore")
            result = verify_database(server.app.state.db.path, keys=keys)
            assert result.ok, (upload.name, result.summary())
            assert verify_database(server.app.state.db.path).ok  # the keys are in the file


def test_ledgrab_verify_an_export_against_a_kept_checkpoint(tmp_path, capsys):
    path, _key = build_signed_log(tmp_path / "data", entries=200)
    kept = checkpoint_note(path, 150)
    checkpoint = tmp_path / "checkpoint.txt"
    checkpoint.write_text(kept)
    export = tmp_path / "export.ndjson"
    exporting = [sys.executable, "-m", "ledgrab", "export", "--data-dir", str(tmp_path / "data")]
    subprocess.run([*exporting, "--format", "ndjson", "-o", str(export)], check=True)
    public = str(tmp_path / "data" / PUBLIC_KEY_FILE)
    args = ["verify", "--from-export", str(export), "--checkpoint", str(checkpoint)]
    assert main([*args, "--public-key", public]) == 0
    assert capsys.readouterr().out.startswith("verified 200 entries, seq 1..200")
    # the export cut after 120 (newest first: drop the first 80 lines)
    export.write_text("".join(export.read_text().splitlines(keepends=True)[80:]))
    assert main([*args, "--public-key", public]) == 1
    assert capsys.readouterr().out.startswith("FAILED at seq 121: the log ends at #120")
    # a key that did not sign the checkpoint
    (tmp_path / "other").mkdir()
    other = DeviceKey.load_or_create(tmp_path / "other").public.line
    assert main([*args, "--public-key", other]) == 1
    assert "not trusted" in capsys.readouterr().out
    assert main([*args, "--public-key", "not a key"]) == 2


def test_ledgrab_restore_refuses_a_backup_whose_chain_is_broken(tmp_path, capsys):
    path, _key = build_signed_log(tmp_path / "data", entries=40)
    backup = tmp_path / "backup.db"
    backup.write_bytes(path.read_bytes())
    sql(backup, ("UPDATE activity_log SET message = 'rewritten' WHERE seq = 33",))
    assert main(["restore", "--data-dir", str(tmp_path / "data"), str(backup)]) == 1
    err = capsys.readouterr().err
    assert "not restored" in err and "seq 33: content changed" in err
    assert verify_database(path).ok  # the live file was not touched
