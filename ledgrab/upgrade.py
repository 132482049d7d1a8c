"""`ledgrab-update WHEEL`: switch a board to another LedGrab wheel, or back if it does not come up.

The layout under the prefix (/opt/ledgrab): one virtual environment per version in
`releases/<version>`, `current` and `previous` pointing at two of them, and `bin` at `current/bin`
(so `/opt/ledgrab/bin/ledgrab`, the unit's ExecStart, is always the current one). The steps:

1. install WHEEL into `releases/<new>` while the old version still serves;
2. stop the service; record `system upgrade.started` and back the database up (old version);
3. migrate the database and point `current` at the new release (new version);
4. start the service and wait for GET /health over HTTPS, the device's own certificate pinned,
   to name the new version;
5. up in time: record `upgrade.completed`, keep the old release as `previous`, remove older ones;
   not up: stop, restore the backup and point `current` back (old version), record
   `upgrade.rolled_back`, start the old version again.

Standard library only: it runs from any release, or straight from the wheel for the first
install (`PYTHONPATH=ledgrab-X.whl python3 -m ledgrab.upgrade ledgrab-X.whl`). The service is
stopped and started by two commands (systemctl by default), the one thing a test replaces.
Exit status: 0 upgraded, 1 rolled back (the old version serves again), 2 refused before any
change, 3 the rollback failed too (see what it printed).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

from ledgrab.core.tls.pinning import check_pin, fingerprint_of_pem

__all__ = ["Layout", "main"]

# The device's own certificate in the data directory (ledgrab.core.tls.service: TLS_DIR, CERT_FILE).
DEVICE_CERT = Path("tls") / "cert.pem"
DATABASE_FILE = "ledgrab.db"  # ledgrab.app.DATABASE_FILE
BACKUP_DIR = "upgrade-backups"
KEEP_BACKUPS = 3  # pre-upgrade backups on the data partition; older ones are removed
_WHEEL_NAME = re.compile(r"^ledgrab-(?P<version>[0-9][^-]*)-[^-]+-[^-]+-[^-]+\.whl$")

EXIT_UPGRADED, EXIT_ROLLED_BACK, EXIT_REFUSED, EXIT_BROKEN = 0, 1, 2, 3


class Refused(Exception):
    """Nothing was changed: the message says why."""


class Layout:
    """The releases under a prefix and the links that choose among them."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.releases = prefix / "releases"
        self.current = prefix / "current"
        self.previous = prefix / "previous"

    def release(self, version: str) -> Path:
        return self.releases / version

    def ledgrab(self, release: Path) -> Path:
        return release / "bin" / "ledgrab"

    def current_release(self) -> Path | None:
        return self.current.resolve() if self.current.is_symlink() else None

    def previous_release(self) -> Path | None:
        return self.previous.resolve() if self.previous.is_symlink() else None

    def point(self, link: Path, release: Path) -> None:
        """Replace `link` atomically (a new link renamed over it), then sync the directory."""
        tmp = link.with_name(f".{link.name}.new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(release.relative_to(self.prefix))
        os.replace(tmp, link)
        fd = os.open(self.prefix, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def link_bin(self) -> None:
        bin_link = self.prefix / "bin"
        if not bin_link.exists() or bin_link.is_symlink():
            tmp = self.prefix / ".bin.new"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(Path("current") / "bin")
            os.replace(tmp, bin_link)

    def prune(self) -> list[str]:
        """Remove the releases that are neither current nor previous; return their names."""
        keep = {p.resolve() for p in (self.current, self.previous) if p.is_symlink()}
        gone = []
        for release in sorted(self.releases.iterdir()):
            if release.resolve() not in keep:
                shutil.rmtree(release)
                gone.append(release.name)
        return gone


class Updater:
    """One run of the steps in the module docstring; `say` prints each with the time taken."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.layout = Layout(Path(args.prefix).absolute())
        self.data_dir = Path(args.data_dir).absolute()
        self.started = time.monotonic()
        self.previous_before = self.layout.previous_release()  # put back by a rollback

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)

    # -- the pieces ------------------------------------------------------------------------

    def ledgrab(self, release: Path, *args: str, check: bool = True) -> str:
        """Run a release's own `ledgrab` on the data directory; return its output."""
        config = ["--config", self.args.config] if self.args.config else []
        cmd = [str(self.layout.ledgrab(release)), *args, "--data-dir", str(self.data_dir), *config]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, cmd, result.stdout, result.stderr
            )
        return (result.stdout + result.stderr).strip()

    def version_of(self, release: Path) -> str:
        out = subprocess.run(
            [str(self.layout.ledgrab(release)), "--version"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return out.stdout.strip().removeprefix("ledgrab ")

    def service(self, which: str) -> None:
        command = self.args.stop_command if which == "stop" else self.args.start_command
        self.say(f"{which} the service: {command}")
        subprocess.run(shlex.split(command), check=True, timeout=300)

    def install(self, wheel: Path, version: str) -> Path:
        release = self.layout.release(version)
        self.layout.releases.mkdir(parents=True, exist_ok=True)
        self.say(f"install {wheel.name} into {release}")
        try:
            subprocess.run([self.args.python, "-m", "venv", str(release)], check=True)
            pip = [str(release / "bin" / "python"), "-m", "pip", "install", "--quiet"]
            subprocess.run([*pip, *self.args.pip_arg, str(wheel)], check=True, timeout=1800)
            installed = self.version_of(release)
        except subprocess.SubprocessError as exc:
            shutil.rmtree(release, ignore_errors=True)
            raise Refused(f"{wheel.name} could not be installed ({exc})") from exc
        except BaseException:
            shutil.rmtree(release, ignore_errors=True)
            raise
        if installed != version:
            shutil.rmtree(release, ignore_errors=True)
            raise Refused(f"{wheel.name} installs ledgrab {installed!r}, not {version}")
        return release

    def backup(self, old: Path, old_version: str, new_version: str) -> Path:
        folder = self.data_dir / BACKUP_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        dest = folder / f"ledgrab-{old_version}-before-{new_version}-{stamp}.db"
        self.say(self.ledgrab(old, "backup", str(dest)))
        for stale in sorted(folder.glob("ledgrab-*-before-*.db"))[:-KEEP_BACKUPS]:
            stale.unlink()
        return dest

    def record(self, release: Path, event: str, old: str, new: str, reason: str = "") -> None:
        extra = ["--reason", reason] if reason else []
        args = ["record-upgrade", event, "--from-version", old, "--to-version", new, *extra]
        try:
            self.ledgrab(release, *args)
            self.say(f"recorded system upgrade.{event} ({old} -> {new})")
        except subprocess.CalledProcessError as exc:
            # A release from before ledgrab-update has no record-upgrade: the upgrade goes on.
            self.say(f"could not record upgrade.{event}: {exc.stderr.strip()[-300:]}")

    def wait_healthy(self, version: str) -> str | None:
        """None once /health answers 200 naming `version`; else what was seen last."""
        deadline = time.monotonic() + self.args.timeout
        seen = "no answer"
        while time.monotonic() < deadline:
            try:
                body = self._get_health()
                if body.get("version") == version:
                    self.say(f"GET {self.args.health_url}: {body.get('status')}, version {version}")
                    return None
                seen = f"version {body.get('version')!r} answered"
            except (OSError, ValueError, ssl.SSLError) as exc:
                seen = str(exc) or type(exc).__name__
            time.sleep(1)
        return f"/health did not name {version} within {self.args.timeout:g} s (last: {seen})"

    def _get_health(self) -> dict:
        url = urllib.parse.urlsplit(self.args.health_url)
        if url.scheme == "https":
            cert = Path(self.args.cafile) if self.args.cafile else self.data_dir / DEVICE_CERT
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                url.hostname, url.port, context=unverified_context(), timeout=5
            )
        else:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        try:
            conn.connect()
            if url.scheme == "https":
                if not cert.is_file():
                    raise FileNotFoundError(f"no certificate at {cert} yet")
                check_pin(conn.sock, fingerprint_of_pem(cert.read_text()))
            conn.request("GET", url.path or "/health")
            response = conn.getresponse()
            if response.status != 200:
                raise ValueError(f"/health answered {response.status}")
            return json.loads(response.read())
        finally:
            conn.close()

    # -- the run ---------------------------------------------------------------------------

    def run(self, wheel: Path) -> int:
        match = _WHEEL_NAME.match(wheel.name)
        if not match or not wheel.is_file():
            raise Refused(f"{wheel} is not a ledgrab wheel file (ledgrab-<version>-….whl)")
        new_version = match["version"]
        old = self.layout.current_release()
        if old is not None and old.name == new_version:
            raise Refused(f"ledgrab {new_version} is already the current release")
        if self.layout.release(new_version).exists():
            raise Refused(f"{self.layout.release(new_version)} exists (remove it to reinstall)")
        new = self.install(wheel, new_version)
        if old is None:
            return self.first_install(new, new_version)
        old_version = self.version_of(old)
        self.say(f"upgrade {old_version} -> {new_version}")
        has_db = (self.data_dir / DATABASE_FILE).exists()
        backup = None
        try:
            self.service("stop")
            if has_db:
                self.record(old, "started", old_version, new_version)
                backup = self.backup(old, old_version, new_version)
        except (subprocess.SubprocessError, OSError) as exc:
            self.say(f"no backup, so no upgrade: {exc} {getattr(exc, 'stderr', '') or ''}")
            shutil.rmtree(new, ignore_errors=True)
            self.service("start")
            return EXIT_ROLLED_BACK
        try:
            if has_db:
                self.say(self.ledgrab(new, "migrate"))
            self.layout.point(self.layout.current, new)
            self.layout.point(self.layout.previous, old)
            self.layout.link_bin()
            self.service("start")
            problem = self.wait_healthy(new_version)
        except (subprocess.SubprocessError, OSError) as exc:
            problem = f"{exc}: {getattr(exc, 'stderr', '') or ''}".strip()
        if problem is None:
            if has_db:
                self.record(new, "completed", old_version, new_version)
            removed = self.layout.prune()
            self.say(f"upgraded to {new_version}; {old_version} kept as previous" + (
                f"; removed {', '.join(removed)}" if removed else ""))  # fmt: skip
            return EXIT_UPGRADED
        self.say(f"not up: {problem}; rolling back to {old_version}")
        return self.roll_back(old, old_version, new, new_version, backup, problem)

    def roll_back(
        self, old: Path, old_version: str, new: Path, new_version: str, backup: Path | None,
        problem: str,
    ) -> int:  # fmt: skip
        try:
            self.service("stop")
            if backup is not None:
                self.say(self.ledgrab(old, "restore", str(backup)))
            self.layout.point(self.layout.current, old)
            if self.previous_before is not None:
                self.layout.point(self.layout.previous, self.previous_before)
            else:
                self.layout.previous.unlink(missing_ok=True)
            self.layout.link_bin()
            if backup is not None:
                self.record(old, "rolled_back", old_version, new_version, reason=problem)
            self.service("start")
            again = self.wait_healthy(old_version)
        except (subprocess.SubprocessError, OSError) as exc:
            again = f"{exc}: {getattr(exc, 'stderr', '') or ''}".strip()
        if again is not None:
            self.say(f"ROLLBACK FAILED: {again}")
            return EXIT_BROKEN
        shutil.rmtree(new, ignore_errors=True)
        self.say(f"rolled back: {old_version} serves again; {new_version} removed")
        return EXIT_ROLLED_BACK

    def first_install(self, new: Path, version: str) -> int:
        self.say(f"first install: {version}")
        self.layout.point(self.layout.current, new)
        self.layout.link_bin()
        self.service("start")
        problem = self.wait_healthy(version)
        if problem is not None:
            self.say(f"installed, but not up: {problem}")
            return EXIT_BROKEN
        return EXIT_UPGRADED


def unverified_context() -> ssl.SSLContext:
    """TLS that trusts no CA: the peer is checked against the certificate file by its pin."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledgrab-update", description="install a LedGrab wheel; roll back if it is not up"
    )
    parser.add_argument("wheel", type=Path, help="ledgrab-<version>-py3-none-any.whl")
    parser.add_argument("--prefix", default="/opt/ledgrab", help="where the releases live")
    parser.add_argument(
        "--data-dir", default=os.environ.get("LEDGRAB_DATA_DIR", "/var/lib/ledgrab")
    )
    parser.add_argument("--config", help="the TOML file the service reads, if any")
    parser.add_argument("--health-url", default="https://127.0.0.1:8080/health")
    parser.add_argument(
        "--cafile", help="the certificate /health must present (default: the device's)"
    )
    parser.add_argument(
        "--timeout", type=float, default=180, help="seconds to come up (default 180)"
    )
    parser.add_argument("--stop-command", default="systemctl stop ledgrab.service")
    parser.add_argument("--start-command", default="systemctl start ledgrab.service")
    parser.add_argument("--python", default=shutil.which("python3") or sys.executable,
                        help="the interpreter for the new release's environment")  # fmt: skip
    parser.add_argument(
        "--pip-arg", action="append", default=[],
        help="passed to pip install (repeatable), e.g. --pip-arg=--find-links=/media/usb/wheels",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    updater = Updater(args)
    try:
        return updater.run(args.wheel.absolute())
    except Refused as exc:
        print(f"ledgrab-update: {exc}; nothing was changed", file=sys.stderr)
        return EXIT_REFUSED
    except subprocess.CalledProcessError as exc:
        print(f"ledgrab-update: {exc}\n{exc.stderr or ''}", file=sys.stderr)
        return EXIT_BROKEN


if __name__ == "__main__":
    sys.exit(main())
