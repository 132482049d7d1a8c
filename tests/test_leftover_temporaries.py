"""A power cut between writing a file's temporary and renaming it leaves `.<name>.tmp` beside
it: the service removes those at its start (the data directory and its tls/), at most
MAX_LEFTOVER_TEMPORARIES at a time, and nothing else (docs/power-cuts.md)."""

from __future__ import annotations

import os

import httpx

from ledgrab.core.tls.service import CERT_FILE, TLS_DIR
from ledgrab.utils.files import MAX_LEFTOVER_TEMPORARIES, remove_leftover_temporaries
from tests.support.process_server import ServeProcess


def test_only_dot_tmp_files_directly_in_the_directory_go(tmp_path):
    (tmp_path / ".initial-api-key.tmp").write_bytes(b"\0" * 40)
    (tmp_path / ".ledgrab-write-check-x1y2.tmp").write_bytes(b"")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.write_text("not ours")
    os.symlink(outside, tmp_path / ".planted.tmp")
    kept = ["notes.tmp", ".initial-api-key", ".x.tmp2", "ledgrab.db"]
    for name in kept:
        (tmp_path / name).write_text(name)
    (tmp_path / ".dir.tmp").mkdir()
    (tmp_path / ".dir.tmp" / "inside").write_text("inside")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".deeper.tmp").write_text("deeper")

    removed = remove_leftover_temporaries(tmp_path)

    assert removed == [".initial-api-key.tmp", ".ledgrab-write-check-x1y2.tmp", ".planted.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, ".dir.tmp", "sub"])
    assert outside.read_text() == "not ours"  # the link went, not what it pointed at
    assert (tmp_path / ".dir.tmp" / "inside").exists()
    assert (tmp_path / "sub" / ".deeper.tmp").exists()


def test_a_start_removes_at_most_the_limit_and_the_next_one_the_rest(tmp_path):
    count = MAX_LEFTOVER_TEMPORARIES + 3
    for n in range(count):
        (tmp_path / f".file-{n}.tmp").write_text("x")

    first = remove_leftover_temporaries(tmp_path)
    assert len(first) == MAX_LEFTOVER_TEMPORARIES
    assert len(list(tmp_path.iterdir())) == 3
    second = remove_leftover_temporaries(tmp_path)
    assert len(second) == 3 and not set(first) & set(second)
    assert list(tmp_path.iterdir()) == []
    assert remove_leftover_temporaries(tmp_path / "missing") == []


def test_the_service_removes_what_a_cut_left_before_it_writes_anything(tmp_path):
    data = tmp_path / "data"
    first = ServeProcess(data).start()
    first.terminate()
    key = (data / "initial-api-key").read_bytes()
    cert = (data / TLS_DIR / CERT_FILE).read_bytes()
    leftovers = [
        data / ".initial-api-key.tmp",
        data / ".activity-key.pub.tmp",
        data / ".firstboot-report.json.tmp",
        data / ".ledgrab-write-check-a1b2c3.tmp",
        data / TLS_DIR / f".{CERT_FILE}.tmp",
        data / TLS_DIR / ".key.pem.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"-----BEGIN half")

    server = ServeProcess(data).start()
    try:
        assert httpx.get(f"{server.base_url}/health", verify=server.verify).status_code == 200
    finally:
        server.terminate()

    assert [p.name for p in leftovers if p.exists()] == []
    assert (data / "initial-api-key").read_bytes() == key
    assert (data / TLS_DIR / CERT_FILE).read_bytes() == cert
    assert any("removed what a power cut left" in line for line in server.lines)
