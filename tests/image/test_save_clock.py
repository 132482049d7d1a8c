"""save-clock.sh (the image's fake-hwclock): moves the saved time up to now, never back, and
makes the file when it is missing. It only touches the file it is given."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "image/rootfs/usr/lib/ledgrab-image/save-clock.sh"


def _save(path: Path) -> str:
    result = subprocess.run(
        ["sh", str(SCRIPT), str(path)], capture_output=True, text=True, timeout=30, check=True
    )
    return result.stdout


def test_an_old_save_moves_up_to_now(tmp_path: Path) -> None:
    clock = tmp_path / "clock"
    clock.touch()
    week_ago = time.time() - 7 * 86_400
    os.utime(clock, (week_ago, week_ago))
    before = int(time.time())
    assert "saved the time" in _save(clock)
    assert clock.stat().st_mtime >= before


def test_a_later_save_is_never_moved_back(tmp_path: Path) -> None:
    clock = tmp_path / "clock"
    clock.touch()
    ahead = time.time() + 3 * 86_400  # saved by a clock that was right; this one is behind
    os.utime(clock, (ahead, ahead))
    assert "kept the saved time" in _save(clock)
    assert abs(clock.stat().st_mtime - ahead) < 1


def test_a_missing_file_is_made(tmp_path: Path) -> None:
    clock = tmp_path / "timesync" / "clock"
    _save(clock)
    assert clock.is_file()
