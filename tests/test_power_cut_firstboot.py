"""The image's first boot cut at every one of its file operations: the report, the settings file
(with its secrets stripped) and every file it writes under the root are old or new, never empty
or half; a first boot run again afterwards finishes the job."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from ledgrab import firstboot
from tests.support.power_cut import PowerCut, build_shim

SETTINGS = """\
hostname = Living-Room
wifi_country = de
wifi_ssid = "My Net"
wifi_passphrase = correct horse battery
api_key = k3y-0123456789abcdef
colour = blue
"""

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ledgrab import firstboot

    class Quiet(firstboot.System):
        def run(self, *cmd): pass
        def sethostname(self, name): pass

    root = Path(sys.argv[1])
    firstboot.run(root / "boot/ledgrab.txt", root / "data", root, Quiet(), log=lambda m: None)
    """
)


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    return build_shim(tmp_path_factory.mktemp("shim"))


def _fresh_root(tmp_path):
    root = tmp_path / "root"
    shutil.rmtree(root, ignore_errors=True)
    for sub in ("boot", "data", "usr/share/zoneinfo/Etc"):
        (root / sub).mkdir(parents=True)
    (root / "usr/share/zoneinfo/Etc/UTC").write_bytes(b"TZif")
    (root / "boot/ledgrab.txt").write_text(SETTINGS)
    return root


def _first_boot(shim, tmp_path, kill_after):
    root = _fresh_root(tmp_path)
    cut = PowerCut(shim, root, tmp_path / "cut", kill_after)
    return root, cut, cut.run_python(CHILD)


def _whole_files(root):
    problems = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = str(path.relative_to(root))
        if path.name.endswith(".tmp"):
            continue  # write_durably's scratch: rewritten whole before it is renamed
        data = path.read_bytes()
        if not data or b"\0" in data:
            problems.append(f"{name} is empty or has a hole")
    report = root / "data" / firstboot.REPORT_NAME
    if report.exists():
        try:
            json.loads(report.read_text())
        except ValueError as exc:
            problems.append(f"the report is not whole: {exc}")
    text = (root / "boot/ledgrab.txt").read_text(errors="replace")
    if text != SETTINGS and "correct horse" in text:
        problems.append("the settings file is neither the old nor the stripped one")
    return problems


def _operations(shim, tmp_path) -> int:
    _root, cut, result = _first_boot(shim, tmp_path, None)
    assert result.returncode == 0, result.stderr
    return cut.operations()


def _cut_at(shim, tmp_path, points, modes):
    failures = []
    for kill_after in points:
        for mode in modes:
            root, cut, result = _first_boot(shim, tmp_path, kill_after)
            assert result.returncode == -signal.SIGKILL, result.stderr
            loss = cut.lose(mode, random.Random(kill_after))
            problems = _whole_files(root)
            again = subprocess.run(
                [sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True
            )
            report = root / "data" / firstboot.REPORT_NAME
            if again.returncode != 0 or not report.exists():
                problems.append(f"the next first boot did not finish: {again.stderr[-300:]}")
            elif "correct horse" in (root / "boot/ledgrab.txt").read_text():
                problems.append("the secrets stayed in the settings file")
            if problems:
                failures.append((kill_after, mode, loss.summary(), problems))
    return failures


def test_first_boot_survives_power_cuts_at_four_of_its_operations(shim, tmp_path):
    operations = _operations(shim, tmp_path)
    points = sorted({max(1, operations * n // 4) for n in range(1, 5)})
    assert _cut_at(shim, tmp_path, points, ("random",)) == []


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_first_boot_survives_a_power_cut_at_every_operation(shim, tmp_path):
    operations = _operations(shim, tmp_path)
    assert operations > 5
    assert _cut_at(shim, tmp_path, range(1, operations + 1), ("all", "random")) == []
