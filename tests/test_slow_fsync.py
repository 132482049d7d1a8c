"""A write stuck in a slow fsync leaves the event loop serving; answered writes are on disk."""

import shutil
import signal
import sqlite3
import subprocess
import threading

import httpx
import pytest

from tests.support.live_server import wait_for
from tests.support.process_server import ServeProcess

SHIM_SOURCE = __import__("pathlib").Path(__file__).parent / "native" / "fsync_gate.c"


@pytest.fixture(scope="module")
def fsync_gate_library(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the fsync gate (make test installs it)")
    out = tmp_path_factory.mktemp("shim") / "fsync_gate.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(out), str(SHIM_SOURCE), "-ldl"], check=True
    )
    return out


def test_event_loop_serves_while_a_write_waits_on_fsync(tmp_path, fsync_gate_library):
    gate, mark = tmp_path / "gate", tmp_path / "stuck"
    server = ServeProcess(
        tmp_path / "data",
        env={
            "LD_PRELOAD": str(fsync_gate_library),
            "FSYNC_GATE": str(gate),
            "FSYNC_GATE_MARK": str(mark),
        },
    ).start()
    headers = {"Authorization": f"Bearer {server.api_key}"}
    result: dict = {}

    def create_key():
        result["response"] = httpx.post(
            f"{server.base_url}/api/v1/system/api-keys",
            json={"label": "written-slowly"},
            headers=headers,
            timeout=60,
            verify=server.verify,
        )

    try:
        gate.touch()
        writer = threading.Thread(target=create_key)
        writer.start()
        wait_for(mark.exists, what="the write to reach fsync")

        health = httpx.get(f"{server.base_url}/health", timeout=10, verify=server.verify)
        listing = httpx.get(
            f"{server.base_url}/api/v1/system/api-keys", headers=headers, verify=server.verify
        )
        assert health.status_code == 200
        assert [k["label"] for k in listing.json()] == ["admin"]
        assert "response" not in result, "the write answered before its fsync finished"

        gate.unlink()
        writer.join(60)
        assert result["response"].status_code == 201

        # Acknowledged means on disk: a hard kill right after the answer loses nothing.
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(30)
    finally:
        gate.unlink(missing_ok=True)
        server.kill()
    conn = sqlite3.connect(tmp_path / "data" / "ledgrab.db")
    labels = {row[0] for row in conn.execute("SELECT label FROM api_keys")}
    conn.close()
    assert labels == {"admin", "written-slowly"}
