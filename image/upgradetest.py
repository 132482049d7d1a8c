"""Boots the new image on the data partition the previous image made, and checks nothing was lost.

1. The previous image (amd64) boots; through its API it gets devices, sources, a target, an API
   key of its own, changed activity-log settings and a few hundred logged changes. All of it is
   read back, the whole activity log exported, and the guest shut down cleanly.
2. The new image, its data partition replaced by the previous one's (a card reflashed with the new
   system, the data kept), boots. The same reads must give the same answers, the API key made on
   the old system must still open the API, the new log must begin with every entry the old one
   exported (same ids, seqs, chain values, fields, order), and the device's own check of the
   hash chain (GET /api/v1/activity/verify) must pass.
"""

from __future__ import annotations

import argparse
import json
import os
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

    def __init__(self, name: str, disk: Path, boot: Path, work: Path, log) -> None:
        self.name, self.disk, self.log = name, disk, log
        self.port = boottest.free_port()
        self.monitor = work / f"{name}-monitor.sock"
        serials = [work / f"{name}-serial0.log", work / f"{name}-serial1.log"]
        cmd = boottest.qemu_command("amd64", disk, boot, serials, self.port, self.monitor)
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
                return {k: steady(v) for k, v in value.items() if k not in RUNTIME_FIELDS}
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("previous", type=Path, help="the previous amd64 image")
    parser.add_argument("new", type=Path, help="the new amd64 image")
    parser.add_argument("--changes", type=int, default=300, help="logged edits on the old system")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for each boot")
    parser.add_argument("--console-log", type=Path, help="also write the consoles here")
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
        new = Guest("new", new_disk, new_boot, work, log)
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
        finally:
            new.power_off()
        log(f"kept: {', '.join(SNAPSHOT)}, {len(entries)} log entries and the key, through")
        log(f"  {before['version']} (previous image) -> {after['version']} (new image)")
    finally:
        boottest.discard(work, log)
    return log.verdict("upgrade boot test", failures)


if __name__ == "__main__":
    sys.exit(main())
