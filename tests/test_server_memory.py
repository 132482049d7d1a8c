"""The running server does not load `cryptography` (about 10 MB of its RSS): Ed25519 goes
through the libcrypto the ssl module maps, certificate work through a short-lived child."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from tests.support.process_server import ServeProcess


def _mapped_files(pid: int) -> set[str]:
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps:
        return {line.split(maxsplit=5)[5].strip() for line in maps if len(line.split()) > 5}


def test_a_running_server_has_no_cryptography_mapped(tmp_path):
    config = tmp_path / "ledgrab.toml"
    config.write_text("[server]\ncheck_interval_s = 1\n")  # the periodic check runs meanwhile
    server = ServeProcess(tmp_path / "data", env={"LEDGRAB_CONFIG": str(config)}).start()
    try:
        auth = {"Authorization": f"Bearer {server.api_key}"}
        with httpx.Client(
            base_url=server.base_url, verify=server.verify, headers=auth, timeout=10
        ) as client:
            chain = client.get("/api/v1/activity/chain")  # the log's key is loaded and used
        assert chain.status_code == 200 and chain.json()["fingerprint"]
        server.proc.send_signal(signal.SIGHUP)  # a reload checks the certificate again
        time.sleep(3)  # the periodic certificate check and the SIGHUP's have run
        files = _mapped_files(server.proc.pid)
        assert server.proc.poll() is None
    finally:
        server.terminate()
    assert [f for f in files if "/cryptography/" in f] == []
    assert any(Path(f).name.startswith("libcrypto.so") for f in files)  # ssl's, signing with it
