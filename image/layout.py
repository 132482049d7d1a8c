"""Disk layout of the LedGrab image: emits fstab, the sfdisk script and the Pi boot settings."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

MIB = 1024 * 1024
SECTOR = 512

BOOT_LABEL = "LEDGRAB"
ROOT_LABEL = "ledgrab-root"
DATA_LABEL = "ledgrab-data"

# The first partition starts at 4 MiB so every partition is aligned to SD-card erase blocks.
FIRST_OFFSET_MIB = 4
BOOT_SIZE_MIB = 256
# The data partition ships small and is grown to the end of the card at first boot.
DATA_SIZE_MIB = 128
TMP_SIZE_MIB = 64


@dataclass(frozen=True)
class Partition:
    """One partition: its start and size in MiB, MBR type id and file-system label."""

    start_mib: int
    size_mib: int
    type_id: str
    label: str
    bootable: bool = False


def partitions(root_size_mib: int) -> list[Partition]:
    """The three partitions of an image whose root file system needs `root_size_mib`."""
    if root_size_mib <= 0:
        raise ValueError("root size must be positive")
    boot = Partition(FIRST_OFFSET_MIB, BOOT_SIZE_MIB, "c", BOOT_LABEL, bootable=True)
    root = Partition(boot.start_mib + boot.size_mib, root_size_mib, "83", ROOT_LABEL)
    data = Partition(root.start_mib + root.size_mib, DATA_SIZE_MIB, "83", DATA_LABEL)
    return [boot, root, data]


def image_size_mib(parts: list[Partition]) -> int:
    """Total image size: the last partition's end plus one spare MiB."""
    last = parts[-1]
    return last.start_mib + last.size_mib + 1


def sfdisk_script(parts: list[Partition]) -> str:
    """An sfdisk script that writes an MBR table for `parts`."""
    lines = ["label: dos", "unit: sectors", ""]
    per_mib = MIB // SECTOR
    for p in parts:
        fields = [
            f"start={p.start_mib * per_mib}",
            f"size={p.size_mib * per_mib}",
            f"type={p.type_id}",
        ]
        if p.bootable:
            fields.append("bootable")
        lines.append(", ".join(fields))
    return "\n".join(lines) + "\n"


def fstab() -> str:
    """The image's /etc/fstab: everything by label, noatime, /tmp in RAM, no swap."""
    rows = [
        ("LABEL=" + ROOT_LABEL, "/", "ext4", "rw,noatime,errors=remount-ro", "0", "1"),
        ("LABEL=" + BOOT_LABEL, "/boot/firmware", "vfat", "rw,noatime,umask=0077", "0", "2"),
        (
            "LABEL=" + DATA_LABEL,
            "/var/lib/ledgrab",
            "ext4",
            "rw,noatime,nodev,nosuid,noexec",
            "0",
            "2",
        ),
        ("tmpfs", "/tmp", "tmpfs", f"rw,nosuid,nodev,mode=1777,size={TMP_SIZE_MIB}M", "0", "0"),
    ]
    header = "# Written by the LedGrab image build (image/layout.py). No swap on purpose.\n"
    return header + "".join("\t".join(r) + "\n" for r in rows)


def raspi_firmware_defaults() -> str:
    """Settings for Debian's raspi-firmware hooks: root by label and fixed consoles."""
    return (
        "# LedGrab image: root by label so the card boots in any slot and any reader.\n"
        f'ROOTPART="LABEL={ROOT_LABEL}"\n'
        # Fixed rather than "auto": auto probes /dev of the build host's chroot.
        'CONSOLES="tty0 ttyS1,115200"\n'
    )


def raspi_config_extra() -> str:
    """Lines appended to config.txt: onboard audio off, since it shares PWM with WS281x."""
    return "dtparam=audio=off\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "what", choices=["fstab", "sfdisk", "size", "offsets", "raspi-defaults", "raspi-custom"]
    )
    parser.add_argument("--root-mib", type=int, default=1)
    args = parser.parse_args(argv)
    parts = partitions(args.root_mib)
    out = {
        "fstab": fstab,
        "sfdisk": lambda: sfdisk_script(parts),
        "size": lambda: f"{image_size_mib(parts)}\n",
        "offsets": lambda: "".join(f"{p.label} {p.start_mib} {p.size_mib}\n" for p in parts),
        "raspi-defaults": raspi_firmware_defaults,
        "raspi-custom": raspi_config_extra,
    }[args.what]()
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
