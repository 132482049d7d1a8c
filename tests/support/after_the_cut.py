"""What must hold after a power cut: the files are whole, the log is an unbroken run of what was
recorded reaching to the documented window, and every acknowledged write is there.

Each check returns a list of problems (empty when all is well), so one cut reports all it broke.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ledgrab.core.backup.check import BackupRejected, check_backup_file
from tests.support.busy_minute import Acknowledged, Observed

__all__ = ["check_files", "check_log", "check_no_temporaries", "check_service", "verify_chain"]

# The documented window (docs/activity-log.md) is commit_interval_s; a commit takes a moment
# more on a loaded machine, so the check allows this much beyond it.
_COMMIT_SLACK_US = 3_000_000


def _quiet_copy(data_dir: Path, into: Path) -> Path:
    """A copy to read with SQLite: opening the original would replay its -wal before the
    service gets to start on it as it is."""
    shutil.copytree(data_dir, into, ignore=shutil.ignore_patterns("*-shm", "ledgrab.lock"))
    return into


def check_files(data_dir: Path, scratch: Path) -> list[str]:
    """Every file is whole: PEM files parse, the certificate matches its key, key files are not
    empty, the database and every kept backup pass SQLite's integrity check."""
    problems = []
    copy = _quiet_copy(data_dir, scratch / "copy")
    for path in sorted(p for p in copy.rglob("*") if p.is_file()):
        name = str(path.relative_to(copy))
        data = path.read_bytes()
        # Scratch, never read as data: the next start empties backup-work and removes
        # write_durably's .<name>.tmp (check_no_temporaries asserts that).
        scratch_file = name.startswith("backup-work/") or path.name.endswith(".tmp")
        if scratch_file or name.endswith(("-wal", "-journal")) or name.endswith(".partial"):
            continue
        # 0 bytes is SQLite's own empty database: a first start cut before its first commit.
        if not data and name != "ledgrab.db":
            problems.append(f"{name} is empty")
            continue
        pem_cut = name.endswith(".pem") and b"-----END" not in data
        line_cut = name in ("initial-api-key", "activity-key.pub") and not data.endswith(b"\n")
        if pem_cut or line_cut:
            problems.append(f"{name} is cut short")
    cert, key = copy / "tls" / "cert.pem", copy / "tls" / "key.pem"
    if cert.exists() and key.exists() and cert.stat().st_size and key.stat().st_size:
        try:
            public = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
            private = serialization.load_pem_private_key(key.read_bytes(), password=None)
            if public.public_numbers() != private.public_key().public_numbers():
                problems.append("tls/cert.pem does not belong to tls/key.pem")
        except ValueError as exc:
            problems.append(f"the TLS pair does not load: {exc}")
    db = copy / "ledgrab.db"
    if db.exists():
        conn = sqlite3.connect(db)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError as exc:
            result = [(str(exc),)]
        finally:
            conn.close()
        if result != [("ok",)]:
            problems.append(f"ledgrab.db integrity_check: {result[:3]}")
    for backup in sorted((copy / "backups").glob("*.db")) if (copy / "backups").exists() else []:
        try:
            check_backup_file(backup)
        except BackupRejected as exc:
            problems.append(f"backup {backup.name} is not whole: {exc}")
    return problems


def _log_rows(copy: Path) -> list[tuple[str, int]]:
    db = copy / "ledgrab.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, ts FROM activity_log ORDER BY seq").fetchall()
    except sqlite3.OperationalError:
        return []  # cut before the log's table existed
    finally:
        conn.close()


def _unbroken(stored: list[str], recorded: list[str], what: str) -> tuple[list[str], int]:
    """`stored` (ids of one stretch, in log order) must be one contiguous run of `recorded`;
    return problems and the index in `recorded` just past the run."""
    if not stored:
        return [], 0
    position = {entry_id: n for n, entry_id in enumerate(recorded)}
    first = position[stored[0]]
    expected = recorded[first : first + len(stored)]
    if stored != expected:
        missing = sorted(set(expected) - set(stored))[:3]
        return [f"{what}: the stored entries are not an unbroken run (missing {missing})"], 0
    return [], first + len(stored)


def check_log(
    scratch: Path, acked: Acknowledged, observed: Observed, killed_at_us: int
) -> list[str]:
    """The stored log against what the events feed announced: per stretch (before the restore,
    after it) an unbroken run, and the last stretch reaching to the commit window."""
    rows = _log_rows(scratch / "copy")
    recorded = sorted(observed.entries)
    stored_ids = [entry_id for entry_id, _ts in rows]
    problems = []
    if acked.restore == "none":
        stretches = [("log", recorded)]
    else:
        before = [e for e in recorded if e[1] < acked.restore_sent_us]
        after = [e for e in recorded if acked.restore_done_us and e[1] > acked.restore_done_us]
        stretches = [("log before the restore", before), ("log after the restore", after)]
    last_end, last = 0, []
    for what, stretch in stretches:
        ids = [e[0] for e in stretch]
        known = set(ids)
        found, end = _unbroken([i for i in stored_ids if i in known], ids, what)
        problems += found
        last_end, last = end, stretch
    if acked.restore == "sent":
        return problems  # the cut hit the restore: which stretch is last is not known
    window_us = int(acked.activity_settings.get("commit_interval_s", 5.0) * 1_000_000)
    if acked.activity_settings.get("commit_interval_s") is None and acked.in_flight:
        window_us = 5_000_000  # the settings change itself may have been cut
    due = [e for e in last if e[1] < killed_at_us - max(window_us, 5_000_000) - _COMMIT_SLACK_US]
    lost = due[last_end:] if len(due) > last_end else []
    if lost and observed.complete:
        problems.append(
            f"{len(lost)} entries older than the commit window were lost, first {lost[0]}"
        )
    return problems


def _either(in_flight, what) -> tuple[bool, object, object]:
    if in_flight is not None and in_flight[0] == what:
        return True, in_flight[1], in_flight[2]
    return False, None, None


def check_service(server, data_dir: Path, acked: Acknowledged) -> list[str]:
    """The restarted service answers with what was acknowledged (or, for the one request the
    cut hit, with its state before or after)."""
    problems = []
    if acked.restore == "sent":
        # Either the swap did not happen (everything acknowledged is there) or it did (the
        # snapshot is); both are whole states.
        _what, _before, snapshot = acked.in_flight or (None, None, None)
        first = check_service(server, data_dir, _settled(acked))
        if not first or snapshot is None:
            return first
        second = check_service(server, data_dir, _settled(snapshot))
        return [] if not second else [*first, "(nor is it the restored backup:)", *second]
    key_file = data_dir / "initial-api-key"
    key = key_file.read_text(errors="replace").strip() if key_file.exists() else ""
    if not key.isascii() or not key.isprintable() or not key:
        return [f"{key_file.name} does not hold a key: {key[:20]!r}"]
    client = httpx.Client(
        base_url=server.base_url,
        verify=server.verify,
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
    )
    try:
        if client.get("/api/v1/devices").status_code != 200:
            return [f"the admin key in {key_file.name} does not open the API after the cut"]
        devices = {d["id"]: d["name"] for d in client.get("/api/v1/devices").json()}
        for device_id, name in acked.devices.items():
            hit, before, after = _either(acked.in_flight, ("device", device_id))
            allowed = {name} | ({before, after} if hit else set())
            if devices.get(device_id) not in allowed:
                problems.append(f"device {device_id} is {devices.get(device_id)!r}, not {name!r}")
        labels = {k["label"] for k in client.get("/api/v1/system/api-keys").json()}
        for label, secret in acked.keys.items():
            if label not in labels:
                problems.append(f"API key {label!r} is gone")
            elif label != "admin":
                answer = client.get("/health", headers={"Authorization": f"Bearer {secret}"})
                if answer.status_code != 200:
                    problems.append(f"API key {label!r} no longer opens the API")
        hit, before, after = _either(acked.in_flight, ("settings",))
        settings = client.get("/api/v1/activity/settings").json()
        shown = {k: settings.get(k) for k in acked.activity_settings}
        if shown != acked.activity_settings and not (hit and shown in (before, after)):
            problems.append(f"activity settings are {shown}, not {acked.activity_settings}")
        names = {
            f["config"]["name"]
            for f in client.get("/api/v1/activity/forwarders").json()["forwarders"]
        }
        problems += [f"forwarder {n!r} is gone" for n in acked.forwarders if n not in names]
        for name in acked.backups:
            if not (data_dir / "backups" / name).exists():
                problems.append(f"the acknowledged backup {name} is gone")
    finally:
        client.close()
    return problems


def check_no_temporaries(data_dir: Path) -> list[str]:
    """Once the service has started, no `.<name>.tmp` a cut left is in the data directory or
    its tls/ (the start removes them)."""
    return [
        f"{path.relative_to(data_dir)} is still there after the start"
        for directory in (data_dir, data_dir / "tls")
        for path in sorted(directory.glob(".*.tmp"))
    ]


def _settled(acked: Acknowledged) -> Acknowledged:
    out = acked.copy()
    out.activity_settings = dict(acked.activity_settings)
    return out


def verify_chain(data_dir: Path) -> list[str]:
    """`ledgrab verify` on the restarted service's database."""
    result = subprocess.run(
        [sys.executable, "-m", "ledgrab", "verify", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        return [f"ledgrab verify: {(result.stdout + result.stderr).strip()[:300]}"]
    return []
