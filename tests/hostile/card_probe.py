"""Run inside `unshare -rm`: LedGrab on a small tmpfs "card" that fills up or turns read-only.

`python -m tests.hostile.card_probe SCENARIO BASE` prints one JSON object with what it saw.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.live_server import LiveServer, wait_for
from tests.support.process_server import ServeProcess

DEVICE = {"type": "virtual", "led_count": 30}


def _mount(card: Path, size: str = "8m") -> None:
    card.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(card)], check=True)


def _fill(card: Path) -> Path:
    """Write a file until the card refuses another byte."""
    filler = card / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\xff" * 4096)
        except OSError:
            pass
        try:
            while True:
                handle.write(b"\xff")
        except OSError:
            pass
    return filler


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _first_run(data: Path) -> None:
    """A real server makes the database, with one device, then stops cleanly."""
    server = ServeProcess(data).start()
    try:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        created = httpx.post(
            f"{server.base_url}/api/v1/devices", json={**DEVICE, "name": "kept-strip"},
            headers=headers, timeout=30, verify=server.verify,
        )  # fmt: skip
        assert created.status_code == 201, created.text
    finally:
        server.terminate()


def _failed_start(data: Path) -> dict:
    env = {**os.environ, "LEDGRAB_DATA_DIR": str(data), "LEDGRAB_DISCOVERY_ENABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "ledgrab", "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return {"code": done.returncode, "output": (done.stdout + done.stderr).splitlines()}


def _devices_after_restart(data: Path) -> list[str]:
    server = ServeProcess(data).start()
    try:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        listed = httpx.get(
            f"{server.base_url}/api/v1/devices", headers=headers, timeout=30, verify=server.verify
        )
        return sorted(d["name"] for d in listed.json())
    finally:
        server.terminate()


def _start_on_a_bad_card(base: Path, spoil, missing: str | None = None) -> dict:
    """`missing`: "tls" (a data directory from before HTTPS) or "tls/cert.pem" (the key is
    there, the certificate not), removed before the card goes bad, so that the start must
    write TLS files on it."""
    card = base / "card"
    _mount(card)
    data = card / "data"
    _first_run(data)
    if missing:
        subprocess.run(["rm", "-r", str(data / missing)], check=True)
    db = data / "ledgrab.db"
    before = _digest(db)
    undo = spoil(card)
    out = {"failed": _failed_start(data)}
    out["db_unchanged"] = _digest(db) == before
    out["files"] = sorted(os.listdir(data))
    out["tls_files"] = sorted(os.listdir(data / "tls")) if (data / "tls").is_dir() else None
    undo()
    out["devices_after_restart"] = _devices_after_restart(data)
    out["files_after_restart"] = sorted(os.listdir(data))
    out["tls_files_after_restart"] = sorted(os.listdir(data / "tls"))
    return out


def _full(card: Path):
    filler = _fill(card)
    return lambda: filler.unlink()


def _read_only(card: Path):
    subprocess.run(["mount", "-o", "remount,ro", str(card)], check=True)
    return lambda: subprocess.run(["mount", "-o", "remount,rw", str(card)], check=True)


def full_at_start(base: Path, missing: str | None = None) -> dict:
    return _start_on_a_bad_card(base, _full, missing)


def read_only_at_start(base: Path, missing: str | None = None) -> dict:
    return _start_on_a_bad_card(base, _read_only, missing)


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def full_while_running(base: Path) -> dict:
    card = base / "card"
    _mount(card)
    counter = _Count()
    logging.getLogger("ledgrab").addHandler(counter)
    logging.getLogger("ledgrab").setLevel(logging.INFO)
    out: dict = {}
    with LiveServer(card / "data") as live, live.client() as client:
        assert client.post("/api/v1/devices", json={**DEVICE, "name": "before"}).status_code == 201
        filler = _fill(card)
        answers = []
        for i in range(3):
            r = client.post("/api/v1/devices", json={**DEVICE, "name": f"while-full-{i}"})
            answers.append((r.status_code, r.json().get("detail")))
        r = client.get("/api/v1/system/backup")
        out["backup"] = (r.status_code, r.json().get("detail") if r.status_code >= 400 else None)
        r = client.post("/api/v1/system/api-keys", json={"label": "while-full"})
        answers.append((r.status_code, r.json().get("detail")))
        out["writes"] = answers
        out["health_full"] = client.get("/health").json()["components"]["database"]
        out["work_dir"] = sorted(os.listdir(card / "data" / "backup-work"))
        filler.unlink()
        # No entity write: a refused key is an auth entry, committed at once on its own.
        with live.client(key="wrong-key-0123456789") as stranger:
            stranger.get("/api/v1/devices")

        def database_ok() -> bool:
            return client.get("/health").json()["components"]["database"]["state"] == "ok"

        try:
            wait_for(database_ok, timeout=20, what="the database to be ok again")
            out["ok_without_entity_write"] = True
        except AssertionError:
            out["ok_without_entity_write"] = False
        out["after"] = client.post("/api/v1/devices", json={**DEVICE, "name": "after"}).status_code
        out["devices"] = sorted(d["name"] for d in client.get("/api/v1/devices").json())
    out["episode_logs"] = [m for m in counter.messages if "database writes fail" in m]
    return out


if __name__ == "__main__":
    scenario, where, *extra = sys.argv[1], Path(sys.argv[2]), *sys.argv[3:]
    started = time.monotonic()
    result = globals()[scenario](where, *extra)
    print(json.dumps(result))
