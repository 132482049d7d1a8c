"""First-boot settings file of the SD-card image: parse, apply, strip secrets, report (stdlib only).

The file (`ledgrab.txt` on the FAT partition) holds `key = value` lines. Every valid field is
applied and every bad one is reported, never raised: the device must boot whatever the file says.
The report lands in `<data-dir>/firstboot-report.json`, which LedGrab reads with `read_report`.
`--publish` (run by ledgrab.service once it is up) copies a summary of it, with the SHA-256
fingerprint of the HTTPS certificate LedGrab made, to `ledgrab-report.txt` beside the settings
file, so whoever flashed the card can check the certificate their browser is shown.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ledgrab.core.tls.pinning import fingerprint_of_pem
from ledgrab.utils.files import write_durably

DEFAULT_FILE = Path("/boot/firmware/ledgrab.txt")
DEFAULT_DATA_DIR = Path("/var/lib/ledgrab")
REPORT_NAME = "firstboot-report.json"
PUBLIC_REPORT_NAME = "ledgrab-report.txt"  # on the FAT partition: nothing secret goes in it
CERT_FILE = Path("tls/cert.pem")  # LedGrab's certificate in its data directory
# The hash of the file as last applied lives on the root file system, so a card re-flashed with a
# fresh root applies its file again, and an unchanged file is not applied at every boot.
STATE_FILE = Path("var/lib/ledgrab-image/firstboot.sha256")
ENV_FILE = Path("etc/ledgrab/environment")
WPA_FILE = Path("etc/wpa_supplicant/wpa_supplicant-wlan0.conf")
WIFI_IFACE = "wlan0"
# The radio's regulatory domain from boot on, before wpa_supplicant sets it again.
REGDOM_FILE = Path("etc/modprobe.d/ledgrab-wifi-country.conf")
# systemd-timesyncd reads drop-ins here; ours names the LAN's time server(s) from ledgrab.txt.
TIMESYNCD_FILE = Path("etc/systemd/timesyncd.conf.d/ledgrab.conf")
MAX_TIME_SERVERS = 4

KEYS = (
    "hostname",
    "timezone",
    "time_server",
    "wifi_country",
    "wifi_ssid",
    "wifi_passphrase",
    "api_key",
    "ssh",
    "ssh_authorized_key",
)
SECRETS = ("wifi_passphrase", "api_key")

_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TIMEZONE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# A host name (labels of letters, digits, '-'), an IPv4 address, or an IPv6 address.
_TIME_SERVER = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$"
)
_API_KEY = re.compile(r"^[A-Za-z0-9._~+/=-]{16,256}$")
_SSH_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com"
    r"|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,2}( [^\n]*)?$"
)
_ON = {"on", "yes", "true", "1"}
_OFF = {"off", "no", "false", "0", ""}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: the 1-based line (0: the file as a whole), key, message."""

    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass
class Settings:
    """The valid fields of the file; None means "not given, leave as it is"."""

    hostname: str | None = None
    timezone: str | None = None
    time_servers: list[str] | None = None
    wifi_country: str | None = None
    wifi_ssid: str | None = None
    wifi_passphrase: str | None = None
    api_key: str | None = None
    ssh: bool | None = None
    ssh_authorized_key: str | None = None
    lines: dict[str, int] = field(default_factory=dict)


def _timezone_ok(value: str, zoneinfo: Path) -> bool:
    return bool(_TIMEZONE.match(value)) and (zoneinfo / value).is_file()


def parse(
    text: str, zoneinfo: Path = Path("/usr/share/zoneinfo")
) -> tuple[Settings, list[Problem]]:
    """Parse the file's text into the valid settings and a list of problems; never raises."""
    settings = Settings()
    problems: list[Problem] = []
    raw: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" not in stripped:
            problems.append(Problem(number, "", f"expected 'key = value', got {stripped[:40]!r}"))
            continue
        key, value = (part.strip() for part in stripped.split("=", 1))
        key = key.lower()
        if key not in KEYS:
            problems.append(Problem(number, key, f"unknown setting; known: {', '.join(KEYS)}"))
            continue
        if key in raw:
            problems.append(Problem(number, key, f"given twice (first on line {raw[key][0]})"))
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        raw[key] = (number, value)

    def bad(key: str, message: str) -> None:
        problems.append(Problem(raw[key][0], key, message))

    def given(key: str) -> str | None:
        if key not in raw or raw[key][1] == "":
            return None
        settings.lines[key] = raw[key][0]
        return raw[key][1]

    if (v := given("hostname")) is not None:
        if _HOSTNAME.match(v.lower()):
            settings.hostname = v.lower()
        else:
            bad("hostname", "use 1-63 letters, digits and '-', not starting or ending with '-'")
    if (v := given("timezone")) is not None:
        if _timezone_ok(v, zoneinfo):
            settings.timezone = v
        else:
            bad("timezone", f"unknown time zone {v!r}; use a name like Europe/Berlin or UTC")
    if (v := given("time_server")) is not None:
        names = v.replace(",", " ").split()
        wrong = [n for n in names if len(n) > 253 or not _TIME_SERVER.match(n)]
        if wrong:
            bad("time_server", f"not a host name or address: {wrong[0][:40]!r}")
        elif len(names) > MAX_TIME_SERVERS:
            bad("time_server", f"at most {MAX_TIME_SERVERS} time servers, separated by spaces")
        else:
            settings.time_servers = names
    country = given("wifi_country")
    if country is not None:
        if _COUNTRY.match(country.upper()):
            settings.wifi_country = country.upper()
        else:
            bad("wifi_country", "use a two-letter country code such as DE, GB or US")
    ssid = given("wifi_ssid")
    passphrase = given("wifi_passphrase")
    wifi_ok = True
    if ssid is not None and not 1 <= len(ssid.encode()) <= 32:
        bad("wifi_ssid", "a network name has 1 to 32 bytes")
        wifi_ok = False
    if passphrase is not None and not (
        (8 <= len(passphrase) <= 63 and all(32 <= ord(c) < 127 for c in passphrase))
        or re.fullmatch(r"[0-9a-fA-F]{64}", passphrase)
    ):
        bad("wifi_passphrase", "use 8 to 63 printable ASCII characters (or 64 hex digits)")
        wifi_ok = False
    if passphrase is not None and ssid is None:
        bad("wifi_passphrase", "given without wifi_ssid")
        wifi_ok = False
    if ssid is not None and settings.wifi_country is None:
        bad("wifi_ssid", "needs wifi_country: the radio may only send once it knows the country")
        wifi_ok = False
    if wifi_ok and ssid is not None:
        settings.wifi_ssid = ssid
        settings.wifi_passphrase = passphrase
    if (v := given("api_key")) is not None:
        if _API_KEY.match(v):
            settings.api_key = v
        else:
            bad("api_key", "use 16 to 256 characters from letters, digits and . _ ~ + / = -")
    if "ssh" in raw:
        value = raw["ssh"][1].lower()
        settings.lines["ssh"] = raw["ssh"][0]
        if value in _ON:
            settings.ssh = True
        elif value in _OFF:
            settings.ssh = False
        else:
            bad("ssh", "use on or off")
    if (v := given("ssh_authorized_key")) is not None:
        if _SSH_KEY.match(v):
            settings.ssh_authorized_key = v
        else:
            bad("ssh_authorized_key", "expected one public key line such as 'ssh-ed25519 AAAA…'")
    if settings.ssh and settings.ssh_authorized_key is None:
        bad("ssh", "ssh = on needs ssh_authorized_key (password log-in is off); ssh stays off")
        settings.ssh = None
    problems.sort(key=lambda p: p.line)
    return settings, problems


def strip_secrets(text: str, applied: set[str]) -> str:
    """The file's text with the values of the applied secret settings removed."""
    out = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip().lower() if "=" in line else ""
        if key in SECRETS and key in applied and not line.lstrip().startswith("#"):
            out.append(f"# {key} = (applied at boot and removed from this file)")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def wpa_psk(ssid: str, passphrase: str) -> str:
    """The WPA2 pre-shared key for a passphrase, so the passphrase itself is stored nowhere."""
    if len(passphrase) == 64:
        return passphrase.lower()
    return hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid.encode(), 4096, 32).hex()


def wpa_config(country: str, ssid: str, passphrase: str | None) -> str:
    """wpa_supplicant configuration for one network; the SSID is hex-encoded to avoid quoting."""
    auth = f"\tpsk={wpa_psk(ssid, passphrase)}\n" if passphrase else "\tkey_mgmt=NONE\n"
    return (
        "# Written by ledgrab-firstboot from ledgrab.txt.\n"
        "ctrl_interface=DIR=/run/wpa_supplicant\n"
        f"country={country}\n"
        "network={\n"
        f"\tssid={ssid.encode().hex()}\n"
        "\tscan_ssid=1\n"
        f"{auth}"
        "}\n"
    )


class System:
    """The side effects outside the root tree, kept apart so tests can record them instead."""

    def run(self, *cmd: str) -> None:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip() or result.returncode}")

    def sethostname(self, name: str) -> None:
        socket.sethostname(name)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    write_durably(path, text.encode(), mode)


def apply(settings: Settings, root: Path, system: System) -> tuple[list[str], list[Problem]]:
    """Apply the settings under `root`; returns the keys applied and the problems met doing it."""
    applied: list[str] = []
    problems: list[Problem] = []

    def attempt(key: str, action: Callable[[], None]) -> None:
        try:
            action()
            applied.append(key)
        except (OSError, RuntimeError) as exc:
            problems.append(Problem(settings.lines.get(key, 0), key, f"could not apply: {exc}"))

    if settings.hostname:
        name = settings.hostname

        def set_hostname() -> None:
            _write(root / "etc/hostname", name + "\n")
            hosts = root / "etc/hosts"
            lines = hosts.read_text().splitlines() if hosts.exists() else ["127.0.0.1\tlocalhost"]
            lines = [ln for ln in lines if not ln.startswith("127.0.1.1")]
            lines.insert(1, f"127.0.1.1\t{name}")
            _write(hosts, "\n".join(lines) + "\n")
            system.sethostname(name)

        attempt("hostname", set_hostname)
    if settings.timezone:
        zone = settings.timezone

        def set_timezone() -> None:
            link = root / "etc/localtime"
            link.unlink(missing_ok=True)
            link.symlink_to(f"/usr/share/zoneinfo/{zone}")
            _write(root / "etc/timezone", zone + "\n")

        attempt("timezone", set_timezone)
    if settings.time_servers:
        servers = " ".join(settings.time_servers)
        text = f"# From time_server in ledgrab.txt (first boot).\n[Time]\nNTP={servers}\n"
        attempt("time_server", lambda: _write(root / TIMESYNCD_FILE, text))
    if settings.wifi_ssid and settings.wifi_country:
        ssid, country, passphrase = (
            settings.wifi_ssid,
            settings.wifi_country,
            settings.wifi_passphrase,
        )

        def set_wifi() -> None:
            path = root / WPA_FILE
            if passphrase is None and path.exists():
                current = path.read_text()
                # The passphrase was stripped from the file after an earlier boot: keep its PSK.
                if f"ssid={ssid.encode().hex()}\n" in current and "psk=" in current:
                    return
            _write(path, wpa_config(country, ssid, passphrase), 0o600)
            system.run("systemctl", "enable", f"wpa_supplicant@{WIFI_IFACE}.service")
            system.run("systemctl", "restart", "--no-block", f"wpa_supplicant@{WIFI_IFACE}.service")

        attempt("wifi_ssid", set_wifi)
        if "wifi_ssid" in applied and passphrase:
            applied.append("wifi_passphrase")
    if settings.wifi_country:
        regdom = f"options cfg80211 ieee80211_regdom={settings.wifi_country}\n"
        attempt("wifi_country", lambda: _write(root / REGDOM_FILE, regdom))
    if settings.api_key:
        key = settings.api_key
        attempt(
            "api_key", lambda: _write(root / ENV_FILE, f"LEDGRAB_API_KEYS=admin:{key}\n", 0o600)
        )
    if settings.ssh_authorized_key:
        pub = settings.ssh_authorized_key

        def set_key() -> None:
            ssh_dir = root / "root/.ssh"
            ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            _write(ssh_dir / "authorized_keys", pub + "\n", 0o600)

        attempt("ssh_authorized_key", set_key)
    if settings.ssh is True:

        def ssh_on() -> None:
            system.run("ssh-keygen", "-A")
            system.run("systemctl", "enable", "ssh.service")
            system.run("systemctl", "start", "--no-block", "ssh.service")

        attempt("ssh", ssh_on)
    elif settings.ssh is False:

        def ssh_off() -> None:
            system.run("systemctl", "disable", "ssh.service")
            system.run("systemctl", "stop", "--no-block", "ssh.service")

        attempt("ssh", ssh_off)
    return applied, problems


def write_report(data_dir: Path, source: Path, applied: list[str], problems: list[Problem]) -> Path:
    """Write the report LedGrab shows: what was applied and what was wrong, never the values."""
    report = {
        "source": str(source),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "applied": sorted(applied),
        "problems": [{"line": p.line, "key": p.key, "message": p.message} for p in problems],
    }
    path = data_dir / REPORT_NAME
    _write(path, json.dumps(report, indent=2) + "\n", 0o640)
    return path


def read_report(data_dir: Path) -> dict | None:
    """The last first-boot report, or None when there is none or it cannot be read."""
    try:
        report = json.loads((data_dir / REPORT_NAME).read_text())
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def summary(report: dict) -> tuple[str, str | None, dict]:
    """(state, reason, details) for LedGrab's /health: degraded while the last file had problems."""
    problems = [p for p in report.get("problems", []) if isinstance(p, dict)]
    details = {"applied": report.get("applied", []), "problems": problems}
    if not problems:
        return "ok", None, details
    listed = "; ".join(
        str(Problem(p.get("line", 0), p.get("key", ""), p.get("message", ""))) for p in problems
    )
    return "degraded", f"{report.get('source', 'ledgrab.txt')}: {listed}", details


def public_report(data_dir: Path, hostname: str, port: int) -> str:
    """The text of ledgrab-report.txt: the address, the certificate's fingerprint, and what the
    first boot applied or refused (keys and line numbers only, never a value)."""
    lines = [
        "# Written by LedGrab at each start. Nothing in it is secret.",
        f"hostname = {hostname}",
    ]
    try:
        fingerprint = fingerprint_of_pem((data_dir / CERT_FILE).read_text())
    except (OSError, ValueError):
        lines.append("https = off (no certificate made on this device)")
    else:
        lines.append(f"address = https://{hostname}.local:{port}/")
        lines.append(f"tls_fingerprint_sha256 = {fingerprint}")
    report = read_report(data_dir)
    if report is not None:
        _state, reason, details = summary(report)
        lines.append(f"first_boot_applied = {', '.join(details['applied']) or 'nothing'}")
        lines.append(f"first_boot_problems = {reason or 'none'}")
    return "\n".join(lines) + "\n"


def publish(boot_dir: Path, data_dir: Path, hostname: str, port: int) -> bool:
    """Write ledgrab-report.txt into `boot_dir` when its text changed; True when written."""
    path = boot_dir / PUBLIC_REPORT_NAME
    text = public_report(data_dir, hostname, port)
    try:
        if path.read_text() == text:
            return False  # no write to the card when nothing changed
    except (OSError, UnicodeDecodeError):
        pass
    _write(path, text, 0o644)
    return True


def run(file: Path, data_dir: Path, root: Path, system: System, log=print) -> int:
    """Apply `file` if it changed since it was last applied; report and strip secrets."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        log(f"<6>{file} not found; nothing to apply")
        return 0
    except (OSError, UnicodeDecodeError) as exc:
        problems = [Problem(0, "", f"cannot read {file}: {exc}")]
        log(f"<4>ledgrab first boot: {problems[0]}")
        write_report(data_dir, file, [], problems)
        return 0
    state = root / STATE_FILE
    digest = hashlib.sha256(text.encode()).hexdigest()
    if state.exists() and state.read_text().strip() == digest:
        log(f"<6>{file} unchanged since it was applied")
        return 0
    settings, problems = parse(text, root / "usr/share/zoneinfo")
    applied, apply_problems = apply(settings, root, system)
    problems += apply_problems
    for p in problems:
        log(f"<4>ledgrab first boot: {file}: {p}")
    log(f"<5>ledgrab first boot: applied {', '.join(sorted(applied)) or 'nothing'}")
    new_text = strip_secrets(text, set(applied))
    if new_text != text:
        _write(file, new_text, 0o600)
    write_report(data_dir, file, applied, problems)
    _write(state, hashlib.sha256(new_text.encode()).hexdigest() + "\n", 0o600)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Apply the image's first-boot settings file.")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--root", type=Path, default=Path("/"))
    parser.add_argument(
        "--publish", action="store_true", help=f"only write {PUBLIC_REPORT_NAME} beside --file"
    )
    parser.add_argument("--port", type=int, default=8080, help="LedGrab's HTTPS port (--publish)")
    args = parser.parse_args(argv)
    if args.publish:
        hostname = socket.gethostname().split(".")[0]
        written = publish(args.file.parent, args.data_dir, hostname, args.port)
        print(f"{args.file.parent / PUBLIC_REPORT_NAME} {'written' if written else 'unchanged'}")
        return 0

    def log(message: str) -> None:
        print(message, flush=True)

    try:
        return run(args.file, args.data_dir, args.root, System(), log=log)
    except Exception as exc:
        # The unit treats this as done: a broken settings file must never stop the boot.
        print(f"<3>ledgrab first boot failed: {exc!r}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
