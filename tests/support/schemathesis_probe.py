"""Run schemathesis against `ledgrab serve` on 127.0.0.1 and print a one-line JSON summary.

Meant to run inside a private network namespace (tests/support/netns.py): the fuzzer may create
network devices and start targets, and nothing it makes may reach a real LAN.

Usage: python -m tests.support.schemathesis_probe MAX_EXAMPLES PHASES
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.process_server import ServeProcess

# PUT /system/backup/auto takes any existing directory as the destination and the run writes
# backups there: a fuzzer must not scatter database copies over the host's file system.
EXCLUDED = ["PUT /api/v1/system/backup/auto"]
CONFIG = Path(__file__).with_name("schemathesis.toml")
SERVER_ERRORS = {"ST101", "ST102"}  # 5xx, and 5xx on an undeclared request Content-Type


def main(max_examples: str, phases: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="ledgrab-schemathesis-"))
    key = "fuzz-" + secrets.token_urlsafe(24)
    # A configured key: the API refuses to revoke it (409), so no generated request can lock
    # the run out; keys the fuzzer creates itself it may revoke.
    server = ServeProcess(work / "data", env={"LEDGRAB_API_KEYS": f"fuzz:{key}"}).start()
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(CONFIG),
                "run",
                f"{server.base_url}/schema/openapi.json",
                "--header",
                f"Authorization: Bearer {key}",
                # HTTPS as served, trusting exactly the certificate whose fingerprint the server
                # printed (ServeProcess checked the file against it).
                "--tls-verify",
                str(server.cert_file),
                "--checks",
                "all",
                "--mode",
                "all",
                "--phases",
                phases,
                "--max-examples",
                max_examples,
                "--continue-on-failure",  # one 404 finding must not end the search for a 5xx
                "--workers",
                "1",
                "--generation-database",
                "none",
                "--no-color",
                "--report",
                "json",
                "--report-json-path",
                str(work / "report.json"),
                *(arg for name in EXCLUDED for arg in ("--exclude-name", name)),
            ],
            capture_output=True,
            text=True,
            cwd=work,
        )
    finally:
        server.terminate()
    report = json.loads((work / "report.json").read_text())
    shutil.rmtree(work, ignore_errors=True)
    unhandled = [line for line in server.lines if "Traceback" in line or " ERROR " in line]
    return {
        "seed": report["seed"],
        "exit_code": run.returncode,
        "complete": report["complete"],
        "phases": {name: phase["status"] for name, phase in report["phases"].items()},
        "operations": report["operations"],
        "test_cases": report["test_cases"],
        "failures": report["failures"],
        "errors": report["errors"],
        "server_errors": [f for f in report["failures"] if f["code"] in SERVER_ERRORS],
        "unhandled_in_server_log": unhandled[:20],
        "output_tail": run.stdout[-8000:],
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
