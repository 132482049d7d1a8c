"""The image's generated fstab, partition table and Pi boot settings."""

from __future__ import annotations

import importlib.util
import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IMAGE = Path(__file__).resolve().parents[2] / "image"
_spec = importlib.util.spec_from_file_location("ledgrab_image_layout", IMAGE / "layout.py")
assert _spec is not None and _spec.loader is not None
layout = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = layout
_spec.loader.exec_module(layout)


def fstab_rows() -> dict[str, list[str]]:
    rows = [
        line.split()
        for line in layout.fstab().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all(len(r) == 6 for r in rows)
    return {r[1]: r for r in rows}


def test_fstab_mounts_by_label_without_atime_and_keeps_tmp_in_ram() -> None:
    rows = fstab_rows()
    assert set(rows) == {"/", "/boot/firmware", "/var/lib/ledgrab", "/tmp"}
    assert rows["/"][0] == "LABEL=ledgrab-root"
    assert rows["/boot/firmware"][0] == "LABEL=LEDGRAB"
    assert rows["/var/lib/ledgrab"][0] == "LABEL=ledgrab-data"
    for mount in ("/", "/boot/firmware", "/var/lib/ledgrab"):
        assert "noatime" in rows[mount][3].split(","), mount
    assert rows["/tmp"][2] == "tmpfs"
    assert rows["/"][5] == "1" and rows["/var/lib/ledgrab"][5] == "2"
    assert not any(r[2] == "swap" for r in rows.values())
    assert "/dev/mmcblk" not in layout.fstab()


def test_partitions_are_aligned_and_do_not_overlap() -> None:
    parts = layout.partitions(900)
    assert [p.label for p in parts] == ["LEDGRAB", "ledgrab-root", "ledgrab-data"]
    assert parts[0].bootable and parts[0].type_id == "c"
    for a, b in itertools.pairwise(parts):
        assert a.start_mib + a.size_mib == b.start_mib
    assert all(p.start_mib % 4 == 0 for p in parts[:2])
    assert layout.image_size_mib(parts) > parts[-1].start_mib + parts[-1].size_mib
    with pytest.raises(ValueError):
        layout.partitions(0)


@pytest.mark.skipif(shutil.which("sfdisk") is None, reason="sfdisk (fdisk package) not installed")
def test_sfdisk_writes_the_table_the_layout_describes(tmp_path: Path) -> None:
    parts = layout.partitions(300)
    img = tmp_path / "disk.img"
    with img.open("wb") as f:
        f.truncate(layout.image_size_mib(parts) * layout.MIB)
    subprocess.run(
        ["sfdisk", "-q", str(img)], input=layout.sfdisk_script(parts), text=True, check=True
    )
    table = json.loads(
        subprocess.run(
            ["sfdisk", "-J", str(img)], capture_output=True, text=True, check=True
        ).stdout
    )["partitiontable"]
    assert table["label"] == "dos"
    got = [(p["start"] * 512, p["size"] * 512, p["type"]) for p in table["partitions"]]
    want = [(p.start_mib * layout.MIB, p.size_mib * layout.MIB, p.type_id) for p in parts]
    assert got == want
    assert table["partitions"][0].get("bootable") is True


def test_pi_boot_settings_root_by_label_and_audio_off() -> None:
    defaults = layout.raspi_firmware_defaults()
    assert 'ROOTPART="LABEL=ledgrab-root"' in defaults
    assert "mmcblk" not in defaults
    assert layout.raspi_config_extra().splitlines() == ["dtparam=audio=off"]


def test_command_line_prints_each_artefact() -> None:
    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, str(IMAGE / "layout.py"), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert run("fstab") == layout.fstab()
    assert run("size", "--root-mib", "500") == f"{layout.image_size_mib(layout.partitions(500))}\n"
    offsets = [line.split() for line in run("offsets", "--root-mib", "500").splitlines()]
    assert [o[0] for o in offsets] == ["LEDGRAB", "ledgrab-root", "ledgrab-data"]
