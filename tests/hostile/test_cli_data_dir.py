"""The command line on a bad data directory: one line naming the path and the reason, exit 2,
before anything says "serving on"; keys, backup and export never create a database; `backup`
puts its file where the user meant."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import run_ledgrab
from tests.support.live_server import LiveServer

# Tests run as root, which reads and writes any directory: dropping the two capabilities that
# bypass permission bits makes root meet them, as the systemd unit's bounding set does.
_NO_DAC = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
needs_setpriv = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv"
)


def _serve(data_dir: Path, prefix: tuple[str, ...] = ()):
    return run_ledgrab(
        "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", "0", prefix=prefix
    )


def _assert_one_line_refusal(result, path: Path, reason: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "serving on" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and reason in lines[0], lines[0]


def test_serve_on_a_file(tmp_path):
    afile = tmp_path / "state"
    afile.write_text("not a directory")
    _assert_one_line_refusal(_serve(afile), afile, "is not a directory")
    assert afile.read_text() == "not a directory"


def test_serve_below_a_missing_parent(tmp_path):
    wanted = tmp_path / "typo" / "data"
    _assert_one_line_refusal(_serve(wanted), wanted, "does not exist")
    assert not (tmp_path / "typo").exists()


@needs_setpriv
def test_serve_on_an_unwritable_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    _assert_one_line_refusal(_serve(locked, _NO_DAC), locked, "not writable: Permission denied")
    assert os.listdir(locked) == []


@needs_setpriv
def test_serve_on_an_unreadable_directory(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o300)
    _assert_one_line_refusal(_serve(hidden, _NO_DAC), hidden, "cannot be read: Permission denied")


@needs_setpriv
def test_serve_with_a_database_it_cannot_open(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "ledgrab.db").write_bytes(b"")
    os.chmod(data / "ledgrab.db", 0o000)
    result = _serve(data, _NO_DAC)
    _assert_one_line_refusal(result, data / "ledgrab.db", "cannot be opened: Permission denied")


@pytest.mark.parametrize(
    "args", [["keys", "list"], ["keys", "create", "ci"], ["keys", "revoke", "admin"]]
)
def test_keys_without_a_database_refuse_and_create_nothing(tmp_path, args):
    data = tmp_path / "data"
    result = run_ledgrab(*args, "--data-dir", str(data))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""  # no key printed
    assert f"no database at {data / 'ledgrab.db'}" in result.stderr
    assert not data.exists()


@pytest.fixture(scope="module")
def made_data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("backup") / "data"
    with LiveServer(data):
        pass
    return data


def _labels(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        labels = [row[0] for row in conn.execute("SELECT label FROM api_keys")]
    conn.close()
    return labels


def test_backup_to_a_missing_directory_with_a_slash_creates_it(made_data, tmp_path):
    result = run_ledgrab("backup", "--data-dir", str(made_data), f"{tmp_path}/new/backups/")
    assert result.returncode == 0, result.stderr
    target = tmp_path / "new" / "backups"
    assert target.is_dir()
    (made,) = target.iterdir()
    assert made.name.startswith("ledgrab-") and _labels(made) == ["admin"]


def test_backup_into_an_existing_directory_without_a_slash(made_data, tmp_path):
    result = run_ledgrab("backup", "--data-dir", str(made_data), str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert [p.suffix for p in tmp_path.iterdir()] == [".db"]


def test_backup_below_a_missing_directory_without_a_slash_refuses(made_data, tmp_path):
    dest = tmp_path / "nowhere" / "copy.db"
    result = run_ledgrab("backup", "--data-dir", str(made_data), str(dest))
    assert result.returncode == 1
    assert f"the directory {dest.parent} does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_backup_onto_an_existing_file_needs_force(made_data, tmp_path):
    dest = tmp_path / "copy.db"
    dest.write_bytes(b"precious")
    refused = run_ledgrab("backup", "--data-dir", str(made_data), str(dest))
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert dest.read_bytes() == b"precious"
    forced = run_ledgrab("backup", "--data-dir", str(made_data), "--force", str(dest))
    assert forced.returncode == 0, forced.stderr
    assert _labels(dest) == ["admin"]
