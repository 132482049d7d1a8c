"""A full or read-only destination fails the run with a warning state; nothing else breaks."""

from __future__ import annotations

from tests.support.mount_ns import run_probe


def _probe(tmp_path) -> dict:
    return run_probe("tests.support.bad_media_probe", str(tmp_path), timeout=60)


def test_full_and_read_only_destinations(tmp_path):
    result = _probe(tmp_path)
    assert "full" in result["full"].lower(), result["full"]
    assert "read-only" in result["read_only"].lower() or "readonly" in result["read_only"].lower()
    assert result["full_health"] == "degraded" and result["read_only_health"] == "degraded"
    assert result["full_files"] == []  # the partial file is removed, the stick is not left full
    assert result["read_only_files"] == []
    assert result["db_still_writable"] is True
