"""build_wheel(): this tree as a LedGrab wheel of another version, optionally one whose
`ledgrab serve` never comes up (what ledgrab-update must roll back). Standard library only:
image/upgradetest.py runs it with the host's python3."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["build_wheel"]

REPO = Path(__file__).parents[2]
PROBE_VERSION = 999  # the broken version's extra migration


def _edit(path: Path, marker: str, insert: str) -> None:
    """Put `insert` right after `marker` in the file of a wheel's source tree."""
    text = path.read_text()
    if marker not in text:
        raise ValueError(f"{path}: {marker!r} not found")
    path.write_text(text.replace(marker, marker + insert, 1))


def build_wheel(version: str, out: Path, work: Path, *, broken: bool = False) -> Path:
    """This tree as a wheel of `version`; `broken`: a newer schema (a migration the others
    lack) and a `ledgrab serve` that exits before serving."""
    src = work / f"src-{version}"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "ledgrab",
         "pyproject.toml", "README.md"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    init = src / "ledgrab" / "__init__.py"
    line = f'__version__ = "{version}"'
    init.write_text(re.sub(r'^__version__ = ".*"$', line, init.read_text(), count=1, flags=re.M))
    if broken:
        probe = 'lambda c: c.execute("CREATE TABLE probe (x)")'
        migrations = src / "ledgrab" / "storage" / "data_migrations.py"
        _edit(migrations, "MIGRATIONS: tuple[Migration, ...] = (\n",
              f'    Migration({PROBE_VERSION}, "upgrade test", {probe}),\n')  # fmt: skip
        _edit(src / "ledgrab" / "cli.py", "def _serve(settings: Settings) -> int:\n",
              '    raise SystemExit("broken on purpose")\n')  # fmt: skip
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)]
    env = {**os.environ, "PIP_FIND_LINKS": ""}
    # The build backend from this environment when it has one (the test venv), else from PyPI.
    built = subprocess.run([*pip, "--no-build-isolation"], capture_output=True, env=env)
    if built.returncode != 0:
        subprocess.run(pip, check=True, capture_output=True, env=env)
    return out / f"ledgrab-{version}-py3-none-any.whl"
