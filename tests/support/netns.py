"""Run a probe module in a private network namespace (`unshare -n`): its own loopback with a
multicast route, so no packet ever reaches the host's LAN."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

__all__ = ["needs_private_network", "run_probe_in_private_network"]

ROOT = Path(__file__).resolve().parents[2]


def _can_unshare() -> bool:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


needs_private_network = pytest.mark.skipif(
    not _can_unshare(), reason="needs `unshare -n` (a private network namespace)"
)


def run_probe_in_private_network(
    module: str, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> Any:
    """`python -m module args…` inside the namespace (extra `env` for it); the JSON on its last
    stdout line."""
    script = "ip link set lo up && ip route add 224.0.0.0/4 dev lo && exec " + " ".join(
        shlex.quote(part) for part in [sys.executable, "-m", module, *args]
    )
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
