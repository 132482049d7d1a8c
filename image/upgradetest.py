"""Boots the new image on the data partition the previous image made, and checks nothing was lost.

1. The previous image (amd64) boots; through its API it gets devices, sources, a target, an API
   key of its own, changed activity-log settings and a few hundred logged changes. All of it is
   read back, the whole activity log exported, and the guest shut down cleanly.
2. The new image, its data partition replaced by the previous one's (a card reflashed with the new
   system, the data kept), boots. The same reads must give the same answers, the API key made on
   the old system must still open the API, the new log must begin with every entry the old one
   exported (same ids, seqs, chain values, fields, order), and the device's own check of the
   hash chain (GET /api/v1/activity/verify) must pass.
3. On that running system, over SSH (enabled by its ledgrab.txt), `ledgrab-update` installs a
   newer wheel of this tree (from the FAT partition, its dependencies beside it): /health must
   give the new version with the data unchanged. Then a wheel whose server never comes up: it
   must be rolled back (exit 1), the version before it serving the same data, and the log must
   hold upgrade.started/completed, upgrade.started/restore.completed/upgrade.rolled_back with
   both versions, its chain still proved by the device.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boottest
from boottest import API_KEY, MIB, Console, partitions, pinned_request

# What a device reports about its link and frames changes from one boot to the next.
RUNTIME_FIELDS = {"state", "health", "status", "connected", "last_error", "last_seen", "running"}
SNAPSHOT = {
    "devices": "/api/v1/devices",
    "sources": "/api/v1/sources",
    "targets": "/api/v1/targets",
    "api keys": "/api/v1/system/api-keys",
    "activity settings": "/api/v1/activity/settings",
}


class Guest:
    """One boot of a prepared disk under qemu, with the API reached through a pinned port."""

    def __init__(
        self, name: str, disk: Path, boot: Path, work: Path, log, ssh_port: int | None = None
    ) -> None:
        self.name, self.disk, self.log = name, disk, log
        self.port = boottest.free_port()
        self.monitor = work / f"{name}-monitor.sock"
        serials = [work / f"{name}-serial0.log", work / f"{name}-serial1.log"]
        cmd = boottest.qemu_command("amd64", disk, boot, serials, self.port, self.monitor, ssh_port)
        log(f"$ {' '.join(cmd)}")
        self.start = time.monotonic()
        self.qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.console = Console(serials, self.start, lambda line: log(f"{name} {line}"))
        self.fingerprint = ""

    def wait_up(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        self.fingerprint, result = boottest.wait_for_health(
            self.qemu, self.disk, self.port, deadline
        )
        if result is None:
            raise SystemExit(f"{self.name}: /health never answered (pinned HTTPS)")
        self.log(f"{self.name}: up after {time.monotonic() - self.start:.1f}s: {result['version']}")
        return result

    def call(self, method: str, path: str, body: object = None, key: str = API_KEY) -> object:
        status, data = pinned_request(self.port, method, path, self.fingerprint, key, body)
        if status >= 300:
            raise SystemExit(f"{self.name}: {method} {path} -> {status}: {data[:300]!r}")
        return json.loads(data) if data.strip() else None

    def status(self, path: str, key: str) -> int:
        return pinned_request(self.port, "GET", path, self.fingerprint, key)[0]

    def snapshot(self) -> dict:
        def steady(value):
            if isinstance(value, dict):
                # A key from the configuration (ledgrab.txt's api_key) lives in memory only:
                # its created_at is when the server started.
                runtime = RUNTIME_FIELDS | (
                    {"created_at"} if value.get("source") == "config" else set()
                )
                return {k: steady(v) for k, v in value.items() if k not in runtime}
            if isinstance(value, list):
                return [steady(v) for v in value]
            return value

        return {name: steady(self.call("GET", path)) for name, path in SNAPSHOT.items()}

    def export(self) -> list[dict]:
        status, data = pinned_request(
            self.port, "GET", "/api/v1/activity/export?format=ndjson", self.fingerprint, API_KEY
        )
        if status != 200:
            raise SystemExit(f"{self.name}: export -> {status}")
        entries = [json.loads(line) for line in data.splitlines() if line.strip()]
        return sorted(entries, key=lambda entry: entry["seq"])  # the export is newest first

    def verify_chain(self, timeout: float) -> dict:
        status = self.call("GET", "/api/v1/activity/verify?run=true")
        deadline = time.monotonic() + timeout
        while status["state"] != "done" and time.monotonic() < deadline:
            time.sleep(1)
            status = self.call("GET", "/api/v1/activity/verify")
        return status

    def power_off(self) -> None:
        boottest.power_off(self.qemu, self.monitor)
        self.console.stop.set()
        self.console.thread.join()


def fill(guest: Guest, changes: int) -> str:
    """Entities, a key, settings and `changes` logged edits; returns the new API key."""
    device = guest.call("POST", "/api/v1/devices", {
        "name": "porch", "type": "ddp", "address": "192.0.2.10", "port": 4048, "led_count": 120,
    })  # fmt: skip
    guest.call("POST", "/api/v1/devices", {"name": "desk", "type": "virtual", "led_count": 60})
    source = guest.call("POST", "/api/v1/sources", {"name": "glow", "kind": "rainbow"})
    guest.call("POST", "/api/v1/sources", {"name": "ember", "kind": "fire"})
    guest.call("POST", "/api/v1/targets", {
        "name": "porch glow", "device_id": device["id"], "source_id": source["id"], "fps": 30,
        "brightness": 0.5, "auto_start": False,
    })  # fmt: skip
    key = guest.call("POST", "/api/v1/system/api-keys", {"label": "upgrade-test"})["key"]
    guest.call("PUT", "/api/v1/activity/settings", {"max_days": 400, "commit_interval_s": 2})
    for n in range(changes):
        guest.call("PATCH", f"/api/v1/devices/{device['id']}", {"led_count": 100 + n % 50})
    return key


def transplant_data(old_disk: Path, new_disk: Path) -> None:
    """The new disk's data partition becomes a byte copy of the old one's (sized to fit it)."""
    old, new = partitions(old_disk)[2], partitions(new_disk)[2]
    os.truncate(new_disk, new["start"] + old["size"])
    subprocess.run(["sfdisk", "-q", "-N", "3", str(new_disk)], input=", +\n", text=True, check=True)
    subprocess.run(
        ["dd", f"if={old_disk}", f"of={new_disk}", "bs=1M", "status=none", "conv=notrunc,sparse",
         f"skip={old['start'] // MIB}", f"seek={new['start'] // MIB}",
         f"count={old['size'] // MIB}"],
        check=True,
    )  # fmt: skip


UPDATE_VERSION, BROKEN_VERSION = "9.0.2", "9.0.3"
UPDATES = "updates"  # the folder on the FAT partition (/boot/firmware/updates on the device)


def updates_folder(dependencies: Path, work: Path) -> Path:
    """The dependencies' wheels, this tree as UPDATE_VERSION and as a BROKEN_VERSION whose
    server never comes up: what is copied to the card for ledgrab-update."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository
    from tests.support.release_wheel import build_wheel

    folder = work / UPDATES
    folder.mkdir()
    for wheel in dependencies.glob("*.whl"):
        if not wheel.name.startswith("ledgrab-"):
            shutil.copy2(wheel, folder)
    build_wheel(UPDATE_VERSION, folder, work / "wheel-src")
    build_wheel(BROKEN_VERSION, folder, work / "wheel-src", broken=True)
    return folder


def enable_ssh(disk: Path, folder: Path, work: Path) -> Path:
    """A key pair for root, `ssh = on` in ledgrab.txt and the update folder on the FAT
    partition; returns the private key."""
    key = work / "ssh-key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "upgradetest", "-f", str(key)],
        check=True,
    )
    pub = key.with_suffix(".pub").read_text().strip()
    text = boottest.firstboot_text("lg-upgrade", False)
    settings = work / "ledgrab-ssh.txt"
    settings.write_text(text.replace("ssh = off\n", f"ssh = on\nssh_authorized_key = {pub}\n"))
    fat = boottest.fat(disk, partitions(disk)[0]["start"])
    subprocess.run(["mcopy", "-o", "-i", fat, str(settings), "::ledgrab.txt"], check=True)
    subprocess.run(["mcopy", "-s", "-i", fat, str(folder), "::"], check=True)
    return key


class Shell:
    """Commands run as root on the guest over SSH (host key not checked: a fresh test guest)."""

    def __init__(self, port: int, key: Path, log) -> None:
        self.log = log
        self.base = [
            "ssh", "-p", str(port), "-i", str(key), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=30", "root@127.0.0.1",
        ]  # fmt: skip

    def run(self, command: str, timeout: float) -> subprocess.CompletedProcess:
        self.log(f"ssh# {command}")
        try:
            done = subprocess.run(
                [*self.base, command], capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(exc.cmd, 124, str(exc.stdout), "timed out")
        for line in (done.stdout + done.stderr).splitlines():
            self.log(f"  {line}")
        return done

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run("true", 60).returncode == 0:
                return True
            time.sleep(5)
        return False


def update_inside(guest: Guest, shell: Shell, kept: dict, old_version: str, timeout: float):
    """ledgrab-update on the running device: a newer wheel, then one that must be rolled
    back. Returns the failures."""
    if not shell.wait(timeout):
        return ["ssh to the device never answered (ssh = on in ledgrab.txt)"]
    failures = []
    folder = f"/boot/firmware/{UPDATES}"

    def update(version: str, up_timeout: int) -> subprocess.CompletedProcess:
        return shell.run(
            f"ledgrab-update {folder}/ledgrab-{version}-py3-none-any.whl --timeout {up_timeout} "
            f"--pip-arg=--no-index --pip-arg=--find-links={folder}",
            timeout=1800,
        )

    def serving(expected: str, what: str) -> None:
        version = guest.call("GET", "/health")["version"]
        if version != expected:
            failures.append(f"{what}: /health gives version {version}, not {expected}")
        found = guest.snapshot()
        failures.extend(
            f"{what}: {name} changed: {kept[name]} -> {found[name]}"
            for name in SNAPSHOT
            if found[name] != kept[name]
        )

    started = time.monotonic()
    good = update(UPDATE_VERSION, 600)
    guest.log(f"ledgrab-update {old_version} -> {UPDATE_VERSION}: exit {good.returncode} "
              f"after {time.monotonic() - started:.0f}s")  # fmt: skip
    if good.returncode != 0:
        return [*failures, f"ledgrab-update to {UPDATE_VERSION} exited {good.returncode}"]
    serving(UPDATE_VERSION, "after the update")
    started = time.monotonic()
    broken = update(BROKEN_VERSION, 120)
    guest.log(f"ledgrab-update {UPDATE_VERSION} -> {BROKEN_VERSION} (broken): exit "
              f"{broken.returncode} after {time.monotonic() - started:.0f}s")  # fmt: skip
    if broken.returncode != 1 or "rolling back" not in broken.stdout:
        failures.append(f"the broken {BROKEN_VERSION} was not rolled back: {broken.returncode}")
    serving(UPDATE_VERSION, "after the rollback")
    links = shell.run("readlink /opt/ledgrab/current /opt/ledgrab/previous", 60).stdout.split()
    if links != [f"releases/{UPDATE_VERSION}", f"releases/{old_version}"]:
        failures.append(f"current and previous point at {links}")
    first, then = (
        {"from_version": old_version, "to_version": UPDATE_VERSION},
        {"from_version": UPDATE_VERSION, "to_version": BROKEN_VERSION},
    )
    expected = [
        ("upgrade.started", first), ("upgrade.completed", first), ("upgrade.started", then),
        ("restore.completed", None), ("upgrade.rolled_back", then),
    ]  # fmt: skip
    steps = [e for e in guest.export() if e["action"].startswith("upgrade.")
             or e["action"] == "restore.completed"]  # fmt: skip
    seen = [
        (e["action"], None if want is None else {k: e["metadata"].get(k) for k in want})
        for e, (_action, want) in zip(steps, expected, strict=False)
    ]
    if len(steps) != len(expected) or seen != expected:
        failures.append(f"the log's update steps are {[e['action'] for e in steps]}: {seen}")
    verified = guest.verify_chain(timeout)
    guest.log(f"after the updates: chain check: {verified['summary']}")
    if not (verified.get("result") or {}).get("ok"):
        failures.append(f"the chain check after the updates did not pass: {verified}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("previous", type=Path, help="the previous amd64 image")
    parser.add_argument("new", type=Path, help="the new amd64 image")
    parser.add_argument("--changes", type=int, default=300, help="logged edits on the old system")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for each boot")
    parser.add_argument("--console-log", type=Path, help="also write the consoles here")
    parser.add_argument(
        "--wheels",
        type=Path,
        default=Path(__file__).parent / "build" / "wheels-amd64",
        help="the dependencies' wheels for the in-place update (an image build leaves them here)",
    )
    args = parser.parse_args(argv)
    log = boottest.Log(args.console_log)

    work = Path(tempfile.mkdtemp(prefix="ledgrab-upgrade-"))
    failures: list[str] = []
    try:
        (work / "old").mkdir()
        (work / "new").mkdir()
        old_disk, old_boot = boottest.prepare(
            args.previous.resolve(), "amd64", work / "old", "lg-upgrade", False
        )
        old = Guest("old", old_disk, old_boot, work, log)
        try:
            before = old.wait_up(args.timeout)
            key = fill(old, args.changes)
            kept = old.snapshot()
            entries = old.export()
            log(f"old {before['version']}: {len(entries)} log entries, snapshot {json.dumps(kept)}")
        finally:
            old.power_off()

        new_disk, new_boot = boottest.prepare(
            args.new.resolve(), "amd64", work / "new", "lg-upgrade", False
        )
        transplant_data(old_disk, new_disk)
        ssh_key = enable_ssh(new_disk, updates_folder(args.wheels, work), work)
        ssh_port = boottest.free_port()
        new = Guest("new", new_disk, new_boot, work, log, ssh_port)
        try:
            after = new.wait_up(args.timeout)
            found = new.snapshot()
            for name in SNAPSHOT:
                if found[name] != kept[name]:
                    failures.append(f"{name} changed: {kept[name]} -> {found[name]}")
            if new.status("/api/v1/system/api-keys", key) != 200:
                failures.append("the API key made on the old system no longer opens the API")
            now = new.export()
            if now[: len(entries)] != entries:
                lost = next(
                    (i for i, (a, b) in enumerate(zip(entries, now, strict=False)) if a != b),
                    len(now),
                )
                failures.append(f"the log lost or changed entry {lost}: {entries[lost]}")
            verified = new.verify_chain(args.timeout)
            log(f"new {after['version']}: {len(now)} entries; chain check: {verified['summary']}")
            if not (verified.get("result") or {}).get("ok"):
                failures.append(f"the chain check did not pass: {verified}")
            shell = Shell(ssh_port, ssh_key, log)
            failures += update_inside(new, shell, kept, after["version"], args.timeout)
        finally:
            new.power_off()
        log(f"kept: {', '.join(SNAPSHOT)}, {len(entries)} log entries and the key, through")
        log(f"  {before['version']} (previous image) -> {after['version']} (new image)")
    finally:
        boottest.discard(work, log)
    return log.verdict("upgrade boot test", failures)


if __name__ == "__main__":
    sys.exit(main())
