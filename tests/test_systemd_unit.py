"""The shipped unit passes `systemd-analyze verify` and keeps its hardening and notify contract."""

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[1] / "systemd" / "ledgrab.service"


def test_unit_verifies(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (make test installs the systemd package)")
    # verify checks that ExecStart exists: give it a root where /opt/ledgrab/bin/ledgrab does.
    root = tmp_path / "root"
    for exe in (root / "opt" / "ledgrab" / "bin" / "ledgrab", root / "bin" / "kill"):  # ExecReload
        exe.parent.mkdir(parents=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    # ...and the distribution's own units (sysinit.target and the like) that ours pulls in.
    (root / "usr" / "lib" / "systemd").mkdir(parents=True)
    (root / "usr" / "lib" / "systemd" / "system").symlink_to("/usr/lib/systemd/system")
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    shutil.copy(UNIT, units / UNIT.name)
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", str(units / UNIT.name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        line for line in (result.stdout + result.stderr).splitlines() if "ledgrab.service" in line
    ]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_unit_contract():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    service = parser["Service"]
    assert service["Type"] == "notify"
    assert service["Restart"] == "on-failure"
    assert service["StateDirectory"] == "ledgrab"
    assert int(service["WatchdogSec"]) > 0
    for key in ("ProtectSystem", "ProtectHome", "NoNewPrivileges", "PrivateTmp"):
        assert key in service, key
    assert service["ProtectSystem"] == "strict"
    assert service["DevicePolicy"] == "closed"


def test_the_seccomp_filter_lets_health_read_the_clock_state():
    """/health reads the clock's sync state with adjtimex: a filter without it kills the service
    with SIGSYS at its first start (seen on the image's boot test), ProtectClock=yes included."""
    lines = UNIT.read_text().splitlines()
    allowed = {
        name
        for line in lines
        if line.startswith("SystemCallFilter=") and not line.startswith("SystemCallFilter=~")
        for name in line.removeprefix("SystemCallFilter=").split()
    }
    assert {"adjtimex", "clock_adjtime"} <= allowed
    assert "ProtectClock=yes" not in lines
    if shutil.which("systemd-analyze"):
        listed = subprocess.run(
            ["systemd-analyze", "syscall-filter", "@system-service"],
            capture_output=True, text=True, timeout=60,
        ).stdout.split()  # fmt: skip
        assert "adjtimex" not in listed, "the group now has it: the extra line can go"
