"""The first-boot settings file: parsing, each kind of bad field, applying, secrets removed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledgrab import firstboot

IMAGE = Path(__file__).resolve().parents[2] / "image"
PUBKEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBc3KqQh5Yl6m0Fv8yq1Jm7xH4d9s2bXlq0Tt5n1wQeR me@laptop"
)

GOOD = f"""
# comment
hostname = Living-Room
timezone = Europe/Berlin
wifi_country = de
wifi_ssid = "My Net"
wifi_passphrase = correct horse battery
api_key = k3y-0123456789abcdef
ssh = on
ssh_authorized_key = {PUBKEY}
"""


@pytest.fixture
def zoneinfo(tmp_path: Path) -> Path:
    zi = tmp_path / "zoneinfo"
    for name in ("Europe/Berlin", "UTC", "Etc/UTC"):
        (zi / name).parent.mkdir(parents=True, exist_ok=True)
        (zi / name).write_bytes(b"TZif")
    return zi


class FakeSystem(firstboot.System):
    def __init__(self, fail: str | None = None) -> None:
        self.commands: list[tuple[str, ...]] = []
        self.hostnames: list[str] = []
        self.fail = fail

    def run(self, *cmd: str) -> None:
        if self.fail and self.fail in cmd:
            raise RuntimeError(f"{cmd[0]} failed")
        self.commands.append(cmd)

    def sethostname(self, name: str) -> None:
        self.hostnames.append(name)


def test_good_file_parses_every_field(zoneinfo: Path) -> None:
    s, problems = firstboot.parse(GOOD, zoneinfo)
    assert problems == []
    assert s.hostname == "living-room"
    assert s.timezone == "Europe/Berlin"
    assert (s.wifi_country, s.wifi_ssid, s.wifi_passphrase) == (
        "DE",
        "My Net",
        "correct horse battery",
    )
    assert s.api_key == "k3y-0123456789abcdef"
    assert s.ssh is True
    assert s.ssh_authorized_key == PUBKEY


def test_shipped_template_parses_clean_and_changes_nothing_but_name_zone_and_ssh(
    zoneinfo: Path,
) -> None:
    s, problems = firstboot.parse((IMAGE / "ledgrab.txt").read_text(), zoneinfo)
    assert problems == []
    assert (s.hostname, s.timezone, s.ssh) == ("ledgrab", "UTC", False)
    assert s.wifi_ssid is None and s.api_key is None and s.ssh_authorized_key is None


@pytest.mark.parametrize(
    ("line", "key", "fragment"),
    [
        ("hostname = -bad-", "hostname", "letters, digits"),
        ("hostname = under_score", "hostname", "letters, digits"),
        ("hostname = " + "a" * 64, "hostname", "1-63"),
        ("timezone = Mars/Olympus", "timezone", "unknown time zone"),
        ("timezone = ../../etc/passwd", "timezone", "unknown time zone"),
        ("wifi_country = Germany", "wifi_country", "two-letter"),
        ("api_key = short", "api_key", "16 to 256"),
        ("api_key = has spaces in the middle of it", "api_key", "16 to 256"),
        ("api_key = label:with,comma-0123456789", "api_key", "16 to 256"),
        ("ssh = maybe", "ssh", "on or off"),
        ("ssh_authorized_key = not-a-key", "ssh_authorized_key", "public key"),
        ("colour = blue", "colour", "unknown setting"),
        ("just some words", "", "key = value"),
    ],
)
def test_each_bad_field_is_reported_with_its_line_and_skipped(
    zoneinfo: Path, line: str, key: str, fragment: str
) -> None:
    other = "hostname = ok-name" if key == "timezone" else "timezone = UTC"
    s, problems = firstboot.parse(f"# first\n{other}\n{line}\n", zoneinfo)
    assert len(problems) == 1
    assert problems[0].line == 3
    assert problems[0].key == key
    assert fragment in problems[0].message
    assert s.hostname == ("ok-name" if key == "timezone" else None)
    assert s.timezone == (None if key == "timezone" else "UTC")


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("wifi_ssid = net\nwifi_passphrase = longenough", "wifi_ssid", "needs wifi_country"),
        (
            "wifi_country = DE\nwifi_ssid = net\nwifi_passphrase = short",
            "wifi_passphrase",
            "8 to 63",
        ),
        ("wifi_country = DE\nwifi_ssid = " + "x" * 33, "wifi_ssid", "1 to 32 bytes"),
        ("wifi_country = DE\nwifi_passphrase = longenough", "wifi_passphrase", "without wifi_ssid"),
        ("ssh = on", "ssh", "needs ssh_authorized_key"),
        ("hostname = a\nhostname = b", "hostname", "given twice"),
    ],
)
def test_bad_combinations_are_reported_and_nothing_half_applied(
    zoneinfo: Path, text: str, key: str, fragment: str
) -> None:
    s, problems = firstboot.parse(text, zoneinfo)
    assert [p.key for p in problems] == [key]
    assert fragment in problems[0].message
    assert s.wifi_ssid is None
    assert s.ssh is not True


def test_psk_is_derived_so_the_passphrase_is_not_stored() -> None:
    # Known WPA2 vector from IEEE 802.11i (passphrase "password", SSID "IEEE").
    assert firstboot.wpa_psk("IEEE", "password") == (
        "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"
    )
    conf = firstboot.wpa_config("DE", "My Net", "correct horse battery")
    assert "correct horse battery" not in conf
    assert "ssid=4d79204e6574\n" in conf
    assert "country=DE\n" in conf


def make_root(tmp_path: Path, zoneinfo: Path) -> tuple[Path, Path, Path]:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tledgrab\n")
    (root / "usr/share").mkdir(parents=True)
    (root / "usr/share/zoneinfo").symlink_to(zoneinfo)
    boot = tmp_path / "boot"
    boot.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    return root, boot / "ledgrab.txt", data


def test_run_applies_strips_secrets_and_reports(tmp_path: Path, zoneinfo: Path) -> None:
    root, file, data = make_root(tmp_path, zoneinfo)
    file.write_text(GOOD)
    system = FakeSystem()
    assert firstboot.run(file, data, root, system, log=lambda m: None) == 0

    text = file.read_text()
    assert "correct horse battery" not in text
    assert "k3y-0123456789abcdef" not in text
    assert "hostname = Living-Room" in text
    assert "# wifi_passphrase = (applied at boot" in text
    assert (root / "etc/hostname").read_text() == "living-room\n"
    assert "127.0.1.1\tliving-room" in (root / "etc/hosts").read_text()
    assert system.hostnames == ["living-room"]
    assert (root / "etc/localtime").readlink() == Path("/usr/share/zoneinfo/Europe/Berlin")
    env = root / "etc/ledgrab/environment"
    assert env.read_text() == "LEDGRAB_API_KEYS=admin:k3y-0123456789abcdef\n"
    assert env.stat().st_mode & 0o777 == 0o600
    wpa = root / firstboot.WPA_FILE
    assert wpa.stat().st_mode & 0o777 == 0o600
    assert "psk=" in wpa.read_text()
    regdom = (root / firstboot.REGDOM_FILE).read_text()
    assert regdom == "options cfg80211 ieee80211_regdom=DE\n"
    assert (root / "root/.ssh/authorized_keys").read_text() == PUBKEY + "\n"
    assert ("systemctl", "enable", "ssh.service") in system.commands
    assert ("systemctl", "enable", "wpa_supplicant@wlan0.service") in system.commands

    report = firstboot.read_report(data)
    assert report is not None
    assert report["problems"] == []
    assert "api_key" in report["applied"] and "wifi_passphrase" in report["applied"]
    assert "k3y-0123456789abcdef" not in json.dumps(report)


def test_second_boot_keeps_the_wifi_key_and_does_nothing_for_an_unchanged_file(
    tmp_path: Path, zoneinfo: Path
) -> None:
    root, file, data = make_root(tmp_path, zoneinfo)
    file.write_text(GOOD)
    firstboot.run(file, data, root, FakeSystem(), log=lambda m: None)
    wpa_before = (root / firstboot.WPA_FILE).read_text()

    again = FakeSystem()
    firstboot.run(file, data, root, again, log=lambda m: None)
    assert again.commands == [] and again.hostnames == []

    file.write_text(file.read_text().replace("Living-Room", "kitchen"))
    edited = FakeSystem()
    firstboot.run(file, data, root, edited, log=lambda m: None)
    assert edited.hostnames == ["kitchen"]
    assert (root / firstboot.WPA_FILE).read_text() == wpa_before


def test_malformed_file_is_logged_and_reported_and_good_fields_still_apply(
    tmp_path: Path, zoneinfo: Path
) -> None:
    root, file, data = make_root(tmp_path, zoneinfo)
    file.write_text("hostname = fine\napi_key = tiny\nwifi_country = DE\nnonsense\n")
    logged: list[str] = []
    assert firstboot.run(file, data, root, FakeSystem(), log=logged.append) == 0
    assert (root / "etc/hostname").read_text() == "fine\n"
    assert not (root / "etc/ledgrab/environment").exists()
    warnings = [m for m in logged if m.startswith("<4>")]
    assert len(warnings) == 2
    assert any("line 2: api_key" in m for m in warnings)
    report = firstboot.read_report(data)
    assert report is not None
    assert [(p["line"], p["key"]) for p in report["problems"]] == [(2, "api_key"), (4, "")]
    # A secret that was not applied stays, so the person can see and fix it.
    assert "api_key = tiny" in file.read_text()


def test_failure_while_applying_is_reported_not_raised(tmp_path: Path, zoneinfo: Path) -> None:
    root, file, data = make_root(tmp_path, zoneinfo)
    file.write_text(GOOD)
    firstboot.run(file, data, root, FakeSystem(fail="ssh-keygen"), log=lambda m: None)
    report = firstboot.read_report(data)
    assert report is not None
    assert [p["key"] for p in report["problems"]] == ["ssh"]
    assert "ssh" not in report["applied"]


def test_unreadable_file_is_reported(tmp_path: Path, zoneinfo: Path) -> None:
    root, file, data = make_root(tmp_path, zoneinfo)
    file.write_bytes(b"hostname = \xff\xfe\n")
    firstboot.run(file, data, root, FakeSystem(), log=lambda m: None)
    report = firstboot.read_report(data)
    assert report is not None
    assert "cannot read" in report["problems"][0]["message"]


def test_read_report_tolerates_missing_and_garbage(tmp_path: Path) -> None:
    assert firstboot.read_report(tmp_path) is None
    (tmp_path / firstboot.REPORT_NAME).write_text("{not json")
    assert firstboot.read_report(tmp_path) is None


def test_summary_for_health_names_each_bad_line(tmp_path: Path, zoneinfo: Path) -> None:
    root, file, data = make_root(tmp_path, zoneinfo)
    file.write_text("hostname = fine\napi_key = tiny\n")
    firstboot.run(file, data, root, FakeSystem(), log=lambda m: None)
    report = firstboot.read_report(data)
    assert report is not None
    state, reason, details = firstboot.summary(report)
    assert state == "degraded"
    assert reason is not None and "line 2: api_key" in reason
    assert details["applied"] == ["hostname"]

    file.write_text("hostname = fine\n")
    firstboot.run(file, data, root, FakeSystem(), log=lambda m: None)
    report = firstboot.read_report(data)
    assert report is not None
    assert firstboot.summary(report)[:2] == ("ok", None)


def test_a_time_server_on_the_lan_is_given_to_timesyncd(tmp_path: Path, zoneinfo: Path) -> None:
    root, file, data = make_root(tmp_path, zoneinfo)
    file.write_text("time_server = 192.168.1.10 ntp.lan, fd00::1\n")
    assert firstboot.run(file, data, root, FakeSystem(), log=lambda m: None) == 0
    conf = (root / firstboot.TIMESYNCD_FILE).read_text()
    assert "[Time]\nNTP=192.168.1.10 ntp.lan fd00::1\n" in conf
    assert "time_server" in firstboot.read_report(data)["applied"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("ntp.lan;reboot", "not a host name or address"),
        ("-bad.example", "not a host name or address"),
        ("a b c d e", "at most 4 time servers"),
    ],
)
def test_a_bad_time_server_is_reported_and_nothing_written(
    tmp_path: Path, zoneinfo: Path, value: str, words: str
) -> None:
    settings, problems = firstboot.parse(f"time_server = {value}\n", zoneinfo)
    assert settings.time_servers is None
    assert [(p.line, p.key) for p in problems] == [(1, "time_server")]
    assert words in problems[0].message
    root, file, data = make_root(tmp_path, zoneinfo)
    file.write_text(f"time_server = {value}\n")
    firstboot.run(file, data, root, FakeSystem(), log=lambda m: None)
    assert not (root / firstboot.TIMESYNCD_FILE).exists()
