"""ledgrab-report.txt on the card's FAT partition: the certificate's fingerprint beside what the
first boot applied, written only when it changed, and nothing secret in it."""

from __future__ import annotations

from pathlib import Path

from ledgrab import firstboot
from tests.support.live_server import LiveServer


def test_the_report_carries_the_fingerprint_the_server_serves(tmp_path):
    data, boot = tmp_path / "data", tmp_path / "boot"
    boot.mkdir()
    data.mkdir()
    problem = firstboot.Problem(3, "colour", "unknown setting")
    firstboot.write_report(data, boot / "ledgrab.txt", ["hostname", "api_key"], [problem])
    with LiveServer(data) as server:
        fingerprint, key = server.fingerprint, server.api_key
    code = firstboot.main(
        [
            "--publish",
            "--file",
            str(boot / "ledgrab.txt"),
            "--data-dir",
            str(data),
            "--port",
            "8443",
        ]
    )
    assert code == 0
    text = (boot / firstboot.PUBLIC_REPORT_NAME).read_text()
    fields = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    assert fields["tls_fingerprint_sha256"] == fingerprint
    assert fields["address"].startswith("https://") and fields["address"].endswith(".local:8443/")
    assert fields["first_boot_applied"] == "api_key, hostname"
    assert "line 3: colour" in fields["first_boot_problems"]
    assert key not in text


def test_an_unchanged_report_is_not_rewritten(tmp_path):
    data, boot = tmp_path / "data", tmp_path / "boot"
    with LiveServer(data):
        pass
    assert firstboot.publish(boot, data, "pi", 8080) is True
    stamp = (boot / firstboot.PUBLIC_REPORT_NAME).stat().st_mtime_ns
    assert firstboot.publish(boot, data, "pi", 8080) is False
    assert (boot / firstboot.PUBLIC_REPORT_NAME).stat().st_mtime_ns == stamp


def test_without_a_certificate_the_report_says_https_is_off(tmp_path):
    text = firstboot.public_report(Path(tmp_path), "pi", 8080)
    assert "https = off" in text and "fingerprint" not in text
