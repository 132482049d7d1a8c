"""A full or read-only destination fails the run with a warning state; nothing else breaks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _probe(tmp_path) -> dict:
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    check = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if check.returncode != 0:
        pytest.skip(f"mount namespaces are not available: {check.stderr.decode().strip()}")
    done = subprocess.run(
        ["unshare", "-rm", sys.executable, "-m", "tests.support.bad_media_probe", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_full_and_read_only_destinations(tmp_path):
    result = _probe(tmp_path)
    assert "full" in result["full"].lower(), result["full"]
    assert "read-only" in result["read_only"].lower() or "readonly" in result["read_only"].lower()
    assert result["full_health"] == "degraded" and result["read_only_health"] == "degraded"
    assert result["full_files"] == []  # the partial file is removed, the stick is not left full
    assert result["read_only_files"] == []
    assert result["db_still_writable"] is True
