"""A busy stretch of a device's life, driven through the API, remembering what it acknowledged.

First boot on an empty data directory, then: a forwarder, devices and sources created, renamed
and deleted, a target started and stopped in a loop (a storm of entries), the activity
settings changed (max_entries down to 1000, so retention prunes), an API key, an auto-backup
onto a directory inside the data directory, a downloaded backup restored, and more writes
after it. Everything the server answered with success goes into `Acknowledged`; a request
still open when the power went may or may not have happened (`in_flight`).
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from websockets.sync.client import connect

__all__ = ["Acknowledged", "BusyMinute", "Observed"]


@dataclass
class Acknowledged:
    """The state the client was told is stored."""

    devices: dict[str, str] = field(default_factory=dict)  # id -> name
    keys: dict[str, str] = field(default_factory=dict)  # label -> key
    activity_settings: dict = field(default_factory=dict)
    forwarders: list[str] = field(default_factory=list)  # names
    backups: list[str] = field(default_factory=list)  # auto-backup file names
    restore: str = "none"  # none | sent | done
    restore_sent_us: int = 0
    restore_done_us: int = 0
    in_flight: tuple | None = None  # (what, before, after) of the request the cut may have hit

    def copy(self) -> Acknowledged:
        return Acknowledged(
            dict(self.devices),
            dict(self.keys),
            dict(self.activity_settings),
            list(self.forwarders),
            list(self.backups),
        )


@dataclass
class Observed:
    """Activity entries as the events feed announced them: (id, ts in microseconds, action)."""

    entries: list[tuple[str, int, str]] = field(default_factory=list)
    complete: bool = True  # False if the feed said it lagged (entries may be missing)


def _us(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1_000_000)


class BusyMinute:
    """Run the scenario against `base_url` until it ends or the server dies."""

    def __init__(self, server, data_dir: Path, key: str, storm_entries: int = 1200) -> None:
        self.server, self.data_dir = server, data_dir
        self.storm_entries = storm_entries
        self.acked = Acknowledged(keys={"admin": key})
        self.observed = Observed()
        self._key = key
        self._stop = threading.Event()
        self._client = httpx.Client(
            base_url=server.base_url,
            verify=server.verify,
            timeout=30,
            headers={"Authorization": f"Bearer {key}"},
        )
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))

    # -- the parallel parts ------------------------------------------------------------------

    def _watch(self) -> None:
        try:
            with connect(self.server.ws_url, ssl=self.server.ws_ssl_context, open_timeout=10) as ws:
                ws.send(json.dumps({"type": "auth", "key": self._key}))
                while not self._stop.is_set():
                    try:
                        message = json.loads(ws.recv(timeout=0.2))
                    except TimeoutError:
                        continue
                    if message.get("type") == "activity_logged":
                        entry = message["entry"]
                        self.observed.entries.append(
                            (entry["id"], _us(entry["ts"]), entry["action"])
                        )
                    elif "lag" in message.get("type", ""):
                        self.observed.complete = False
        except Exception:
            pass  # the server went away

    def _storm(self, target_id: str) -> None:
        client = httpx.Client(
            base_url=self.server.base_url,
            verify=self.server.verify,
            timeout=30,
            headers={"Authorization": f"Bearer {self._key}"},
        )
        try:
            while not self._stop.is_set():
                for verb in ("start", "stop"):
                    client.post(f"/api/v1/targets/{target_id}/{verb}")
        except httpx.HTTPError:
            pass
        finally:
            client.close()

    # -- acknowledged writes -----------------------------------------------------------------

    def _send(self, what, before, after, method, path, **kwargs) -> httpx.Response:
        self.acked.in_flight = (what, before, after)
        response = self._client.request(method, path, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response

    def _done(self) -> None:
        self.acked.in_flight = None

    def _create_device(self, name: str) -> str:
        body = {"name": name, "type": "virtual", "led_count": 30}
        response = self._send(("device", None), None, name, "POST", "/api/v1/devices", json=body)
        device_id = response.json()["id"]
        self.acked.devices[device_id] = name
        self._done()
        return device_id

    def _rename_device(self, device_id: str, name: str) -> None:
        before = self.acked.devices[device_id]
        path = f"/api/v1/devices/{device_id}"
        self._send(("device", device_id), before, name, "PATCH", path, json={"name": name})
        self.acked.devices[device_id] = name
        self._done()

    def _delete_device(self, device_id: str) -> None:
        before = self.acked.devices[device_id]
        self._send(("device", device_id), before, None, "DELETE", f"/api/v1/devices/{device_id}")
        del self.acked.devices[device_id]
        self._done()

    def _activity_settings(self, **change) -> None:
        before = dict(self.acked.activity_settings)
        after = {**before, **change}
        self._send(("settings",), before, after, "PUT", "/api/v1/activity/settings", json=change)
        self.acked.activity_settings = after
        self._done()

    def _create_key(self, label: str) -> None:
        response = self._send(
            ("key", label), None, label, "POST", "/api/v1/system/api-keys", json={"label": label}
        )
        self.acked.keys[label] = response.json()["key"]
        self._done()

    # -- the scenario ------------------------------------------------------------------------

    def run(self, work: Path) -> None:
        """The whole stretch; returns early (quietly) when the server dies under it."""
        watcher = threading.Thread(target=self._watch, name="busy-watch", daemon=True)
        watcher.start()
        storms = []
        try:
            port = self._udp.getsockname()[1]
            target = {"kind": "syslog", "host": "127.0.0.1", "port": port}
            forwarders = {"forwarders": [{"name": "lab", "enabled": True, "target": target}]}
            self._send(("forwarders",), [], ["lab"], "PUT", "/api/v1/activity/forwarders",
                       json=forwarders)  # fmt: skip
            self.acked.forwarders = ["lab"]
            self._done()
            devices = [self._create_device(f"strip {n}") for n in range(6)]
            source = self._client.post(
                "/api/v1/sources", json={"name": "glow", "kind": "rainbow", "params": {}}
            ).json()["id"]
            for device_id in devices[:2]:
                target_id = self._client.post(
                    "/api/v1/targets",
                    json={"name": "storm", "device_id": device_id, "source_id": source, "fps": 30},
                ).json()["id"]
                storms.append(threading.Thread(target=self._storm, args=(target_id,), daemon=True))
            for storm in storms:
                storm.start()
            self._activity_settings(max_entries=1000, commit_interval_s=2.0)
            self._create_key("tablet")
            for n, device_id in enumerate(devices[1:4]):
                self._rename_device(device_id, f"renamed {n}")
            self._delete_device(devices[5])
            self._wait_for_entries(self.storm_entries)  # past max_entries: retention prunes
            self._auto_backup()
            snapshot = self._download(work / "download.db")
            for n in range(3):
                self._create_device(f"after backup {n}")
            self._restore(work / "download.db", snapshot)
            for n in range(3):
                self._create_device(f"after restore {n}")
            self._activity_settings(max_days=30)
            self._delete_device(devices[4])
        except (httpx.HTTPError, AssertionError, KeyError, ValueError):
            try:  # a dying process drops its connections a moment before it is gone
                self.server.proc.wait(10)
            except subprocess.TimeoutExpired:
                raise  # a real failure, not the power going
        finally:
            self._stop.set()
            for storm in storms:
                if storm.ident is not None:  # the cut may come between creating and starting
                    storm.join(30)
            watcher.join(30)
            self._client.close()
            self._udp.close()

    def _wait_for_entries(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.observed.entries) < count and time.monotonic() < deadline:
            if self.server.proc.poll() is not None:
                raise httpx.ConnectError("the server is gone")
            time.sleep(0.1)

    def _auto_backup(self) -> None:
        destination = self.data_dir / "backups"
        destination.mkdir(exist_ok=True)
        config = {"enabled": False, "destination": str(destination), "keep": 3}
        self._send(("auto_backup",), None, None, "PUT", "/api/v1/system/backup/auto", json=config)
        self._done()
        response = self._send(("backup",), None, None, "POST", "/api/v1/system/backup/auto/run")
        self.acked.backups.append(response.json()["name"])
        self._done()

    def _download(self, path: Path) -> Acknowledged:
        response = self._client.get("/api/v1/system/backup")
        assert response.status_code == 200, response.text
        path.write_bytes(response.content)
        return self.acked.copy()

    def _restore(self, path: Path, snapshot: Acknowledged) -> None:
        self.acked.restore, self.acked.restore_sent_us = "sent", time.time_ns() // 1000
        self._send(("restore",), None, snapshot, "POST", "/api/v1/system/restore",
                   params={"name": path.name}, content=path.read_bytes())  # fmt: skip
        restored = snapshot.copy()
        restored.restore, restored.restore_sent_us = "done", self.acked.restore_sent_us
        restored.restore_done_us = time.time_ns() // 1000
        restored.backups = list(self.acked.backups)  # the backup files are not in the database
        self.acked = restored
