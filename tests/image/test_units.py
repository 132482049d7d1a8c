"""`systemd-analyze verify` on the units the image ships, with the image's drop-in applied."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE_ROOTFS = REPO / "image" / "rootfs"
IMAGE_UNITS = IMAGE_ROOTFS / "usr" / "lib" / "systemd" / "system"
SHIPPED = [
    "ledgrab-firstboot.service",
    "ledgrab-grow-data.service",
    "ledgrab-save-clock.service",
    "ledgrab-save-clock.timer",
    "ledgrab-set-clock.path",
    "ledgrab-set-clock.service",
    "ledgrab.service",
    "systemd-networkd-wait-online.service",
]


def image_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for exe in (
        "opt/ledgrab/bin/ledgrab",
        "opt/ledgrab/current/bin/python",
        "usr/lib/ledgrab-image/grow-data.sh",
        "usr/lib/ledgrab-image/save-clock.sh",
        "lib/systemd/systemd-networkd-wait-online",
        "bin/kill",  # ledgrab.service's ExecReload
    ):
        path = root / exe
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    # The distribution's own units (sysinit.target, network-pre.target...) come from the host.
    (root / "usr/lib/systemd").mkdir(parents=True)
    (root / "usr/lib/systemd/system").symlink_to("/usr/lib/systemd/system")
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in (REPO / "systemd").glob("ledgrab*"):
        shutil.copy(unit, units)
    for unit in (*IMAGE_UNITS.glob("*.service"), *IMAGE_UNITS.glob("*.timer")):
        shutil.copy(unit, units)
    for drop_in in IMAGE_UNITS.glob("*.d"):
        shutil.copytree(drop_in, units / drop_in.name)
    # Drop-ins the image puts on Debian's units, checked against the host's copy of those units.
    for drop_in in (IMAGE_ROOTFS / "etc/systemd/system").glob("*.d"):
        shutil.copytree(drop_in, units / drop_in.name)
        shutil.copy(Path("/usr/lib/systemd/system") / drop_in.name.removesuffix(".d"), units)
    return root


def test_image_units_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (make test installs the systemd package)")
    root = image_root(tmp_path)
    units = [str(root / "etc/systemd/system" / name) for name in SHIPPED]
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", *units],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    problems = [line for line in output.splitlines() if "ledgrab" in line]
    assert result.returncode == 0 and not problems, output


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (make test installs the systemd package)")
    root = image_root(tmp_path)
    broken = root / "etc/systemd/system/ledgrab-firstboot.service"
    broken.write_text(broken.read_text().replace("Type=oneshot", "Type=oneshoot"))
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "oneshoot" in result.stdout + result.stderr


def test_first_boot_order_and_the_ledgrab_drop_in() -> None:
    text = (IMAGE_UNITS / "ledgrab-firstboot.service").read_text()
    before = next(line for line in text.splitlines() if line.startswith("Before="))
    for unit in ("network-pre.target", "ssh.service", "ledgrab.service"):
        assert unit in before
    assert "ConditionPathExists=/boot/firmware/ledgrab.txt" in text
    drop_in = (IMAGE_UNITS / "ledgrab.service.d" / "image.conf").read_text()
    assert "EnvironmentFile=-/etc/ledgrab/environment" in drop_in
    assert "RequiresMountsFor=/var/lib/ledgrab" in drop_in


def test_the_clock_is_saved_every_quarter_hour_and_after_a_hand_set() -> None:
    timer = (IMAGE_UNITS / "ledgrab-save-clock.timer").read_text()
    assert "OnUnitActiveSec=15min" in timer and "WantedBy=timers.target" in timer
    helper = (IMAGE_UNITS / "ledgrab-set-clock.service.d" / "image.conf").read_text()
    assert "ExecStartPost=+/usr/lib/ledgrab-image/save-clock.sh" in helper
    enabled = (IMAGE_ROOTFS / "usr/lib/ledgrab-image/customize.sh").read_text()
    assert "ledgrab-set-clock.path ledgrab-save-clock.timer" in enabled
