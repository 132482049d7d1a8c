"""Run a probe module as root of its own user and mount namespace (`unshare -rm`): it may mount
small tmpfs "cards" that fill up or turn read-only, which nothing outside it sees."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["ROOT", "require_namespaces", "run_probe"]

ROOT = Path(__file__).resolve().parents[2]


def require_namespaces() -> None:
    """Skip the test where user and mount namespaces are not available."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    check = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if check.returncode != 0:
        pytest.skip(f"mount namespaces are not available: {check.stderr.decode().strip()}")


def run_probe(module: str, *args: str, timeout: float = 120) -> dict:
    """`python -m module args…` inside `unshare -rm`; the JSON object its last line prints."""
    require_namespaces()
    done = subprocess.run(
        ["unshare", "-rm", sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
