"""`python -m ledgrab …` as a child process, with mDNS off; optionally behind a prefix command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["run_ledgrab"]


def run_ledgrab(
    *args: str, prefix: Sequence[str] = (), text: bool = True
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "ledgrab", *args],
        env={**os.environ, "LEDGRAB_DISCOVERY_ENABLED": "false"},
        capture_output=True,
        text=text,
        timeout=60,
    )
