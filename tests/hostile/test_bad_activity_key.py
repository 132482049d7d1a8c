"""A damaged activity-log signing key stops `ledgrab serve` with one line that names the file
and says what to do, before anything starts, and the file is left as it was."""

from __future__ import annotations

import base64

import pytest

from tests.support.cli import run_ledgrab

BEGIN, END = b"-----BEGIN PRIVATE KEY-----\n", b"\n-----END PRIVATE KEY-----\n"
DAMAGED = {
    "not a PEM file": b"garbage\n",
    "a PEM body that is not base64": BEGIN + b"@@@@" + END,
    "a PEM body cut short": BEGIN + base64.b64encode(bytes(20)) + END,
}


@pytest.mark.parametrize("damage", DAMAGED)
def test_a_damaged_signing_key_stops_the_start_with_one_line_and_changes_nothing(tmp_path, damage):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key = data_dir / "activity-key.pem"
    key.write_bytes(DAMAGED[damage])

    result = run_ledgrab("serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir))

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"ledgrab: {key}")
    assert "move it aside" in result.stderr
    assert key.read_bytes() == DAMAGED[damage]
    assert sorted(p.name for p in data_dir.iterdir()) == ["activity-key.pem"], "nothing started"
