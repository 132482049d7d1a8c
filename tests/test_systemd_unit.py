"""The shipped unit passes `systemd-analyze verify` and keeps its hardening and notify contract."""

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from ledgrab.config import EngineSettings

UNITS = Path(__file__).parents[1] / "systemd"
UNIT = UNITS / "ledgrab.service"
CLOCK_UNITS = ("ledgrab-set-clock.service", "ledgrab-set-clock.path")


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser


def test_unit_verifies(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (make test installs the systemd package)")
    # verify checks that ExecStart exists: give it a root where the commands do.
    root = tmp_path / "root"
    opt = root / "opt" / "ledgrab"
    # ExecStart of the service and of the clock helper (the release layout), and ExecReload.
    for exe in (opt / "bin" / "ledgrab", opt / "current" / "bin" / "python", root / "bin" / "kill"):
        exe.parent.mkdir(parents=True, exist_ok=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    # ...and the distribution's own units (sysinit.target and the like) that ours pulls in.
    (root / "usr" / "lib" / "systemd").mkdir(parents=True)
    (root / "usr" / "lib" / "systemd" / "system").symlink_to("/usr/lib/systemd/system")
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    names = (UNIT.name, *CLOCK_UNITS)
    for name in names:
        shutil.copy(UNITS / name, units / name)
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", *(str(units / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "ledgrab" in line]
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


def test_only_the_clock_helper_may_set_the_clock():
    """The web server holds no CAP_SYS_TIME (it may read the clock's state, not set it); the
    one-shot helper that the path unit starts holds CAP_SYS_TIME and no other capability, and
    watches the request file in the server's runtime directory."""
    server = _read(UNIT)["Service"]
    assert "CAP_SYS_TIME" not in server["CapabilityBoundingSet"]
    assert "ledgrab/clock" in server["RuntimeDirectory"].split()
    assert "\nEnvironment=LEDGRAB_CLOCK_REQUEST_DIR=/run/ledgrab/clock\n" in UNIT.read_text()
    assert "ledgrab-set-clock.path" in _read(UNIT)["Unit"]["Wants"]
    helper = _read(UNITS / "ledgrab-set-clock.service")["Service"]
    assert helper["CapabilityBoundingSet"] == "CAP_SYS_TIME"
    assert helper["ExecStart"].endswith("-m ledgrab.set_clock /run/ledgrab/clock")
    assert helper["ReadWritePaths"] == "/run/ledgrab/clock"
    assert helper["PrivateNetwork"] == "yes" and helper["NoNewPrivileges"] == "yes"
    path = _read(UNITS / "ledgrab-set-clock.path")["Path"]
    assert path["PathExists"] == "/run/ledgrab/clock/request"


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


def test_the_unit_lets_the_frame_thread_alone_take_real_time_priority():
    """The frame thread asks for SCHED_FIFO at `[engine] frame_priority`: the unit grants exactly
    that much through RLIMIT_RTPRIO and not through CAP_SYS_NICE (which would also let the
    service renice or re-prioritise anything), and RestrictRealtime=yes would refuse it."""
    service = _read(UNIT)["Service"]
    assert int(service["LimitRTPRIO"]) == EngineSettings().frame_priority >= 1
    assert "CAP_SYS_NICE" not in service["CapabilityBoundingSet"]
    assert service.get("RestrictRealtime", "no") == "no"
