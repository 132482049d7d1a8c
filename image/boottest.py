"""Boots a built image under qemu (amd64 smoke, arm64 virt or raspi3b) and checks what it did.

Passes when ledgrab.service is up (GET /health over HTTPS through a port forwarded to 127.0.0.1
for amd64 and virt, the server's certificate pinned to the SHA-256 fingerprint the device wrote
to ledgrab-report.txt on the FAT partition; "Started ledgrab.service" on the console for
raspi3b) and the first-boot file was applied: new hostname, secrets gone from the file on the FAT
partition, the report written.
The guest network is qemu's user mode with restrict=on: it reaches nothing but the forward.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MIB = 1024 * 1024
API_KEY = "smoke-test-key-0123456789"
PASSPHRASE = "smoke-passphrase-42"

# Test-only kernel arguments: the journal is copied to the console, because systemd's own status
# lines stop once a getty owns the serial console.
TEST_ARGS = "panic=-1 systemd.journald.forward_to_console=1"

MILESTONES = [
    ("kernel", re.compile(r"Linux version \d")),
    ("initramfs", re.compile(r"Run /init as init process|Loading, please wait")),
    ("root mounted", re.compile(r"EXT4-fs \([^)]*\): mounted filesystem")),
    ("systemd", re.compile(r"systemd\[1\]: systemd \d+|Welcome to .*Debian")),
    ("first boot", re.compile(r"Finished ledgrab-firstboot|ledgrab first boot: applied")),
    ("data grown", re.compile(r"Finished ledgrab-grow-data")),
    ("ledgrab started", re.compile(r"Started ledgrab\.service")),
    ("login prompt", re.compile(r"\S+ login:")),
]


# The unit grants the frame thread SCHED_FIFO through LimitRTPRIO= alone (its bounding set holds
# no CAP_SYS_NICE, and RestrictRealtime=, NoNewPrivileges= or the seccomp filter could each take it
# away). Only a real systemd starting the real unit can prove that path, so every boot checks the
# journal for what the server said; the demo target starts the frame thread on first boot.
FRAME_PRIORITY_GRANTED = "the frame thread runs under SCHED_FIFO at priority 1"
FRAME_PRIORITY_REFUSED = "the frame thread runs at normal priority"


def frame_priority_failures(lines: list[str]) -> list[str]:
    """What the console shows wrong about the frame thread's real-time priority (nothing: [])."""
    if any(FRAME_PRIORITY_REFUSED in line for line in lines):
        return ["the frame thread was refused SCHED_FIFO under the unit (see the journal)"]
    if not any(FRAME_PRIORITY_GRANTED in line for line in lines):
        return [f"the journal never said '{FRAME_PRIORITY_GRANTED}'"]
    return []


def partitions(image: Path) -> list[dict]:
    out = subprocess.run(["sfdisk", "-J", str(image)], capture_output=True, text=True, check=True)
    table = json.loads(out.stdout)["partitiontable"]
    return [{"start": p["start"] * 512, "size": p["size"] * 512} for p in table["partitions"]]


def fat(image: Path, offset: int) -> str:
    return f"{image}@@{offset}"


def mcopy_out(image: Path, offset: int, name: str, dest: Path) -> None:
    subprocess.run(["mcopy", "-n", "-i", fat(image, offset), f"::{name}", str(dest)], check=True)


def fat_names(image: Path, offset: int) -> list[str]:
    out = subprocess.run(
        ["mdir", "-b", "-i", fat(image, offset), "::"], capture_output=True, text=True, check=True
    )
    return [line.removeprefix("::/").strip() for line in out.stdout.splitlines() if line.strip()]


def ext4_cat(image: Path, part: dict, path: str, work: Path) -> str:
    """A file from an ext4 partition of the image, after e2fsck has replayed its journal."""
    copy = work / "part.img"
    subprocess.run(
        ["dd", f"if={image}", f"of={copy}", "bs=1M", "status=none", "conv=sparse",
         f"skip={part['start'] // MIB}", f"count={part['size'] // MIB}"],
        check=True,
    )  # fmt: skip
    subprocess.run(["e2fsck", "-fy", str(copy)], capture_output=True, check=False)
    out = subprocess.run(
        ["debugfs", "-R", f"cat {path}", str(copy)], capture_output=True, text=True, check=False
    )
    copy.unlink()
    return out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A file with two bad lines: the device must boot, report both and still apply the rest.
MALFORMED = "api_key = short\ncolour = blue\n"


def firstboot_text(hostname: str, malformed: bool) -> str:
    if malformed:
        return f"hostname = {hostname}\ntimezone = Europe/Berlin\n{MALFORMED}"
    return (
        "# written by image/boottest.py\n"
        f"hostname = {hostname}\n"
        "timezone = Europe/Berlin\n"
        "wifi_country = DE\n"
        "wifi_ssid = smoke-net\n"
        f"wifi_passphrase = {PASSPHRASE}\n"
        f"api_key = {API_KEY}\n"
        "ssh = off\n"
    )


class Console:
    """Follows the guest's serial output files, echoing lines with the time since start."""

    def __init__(self, paths: list[Path], start: float, log) -> None:
        self.paths, self.start, self.log = paths, start, log
        self.seen: dict[str, float] = {}
        self.lines: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        offsets = dict.fromkeys(self.paths, 0)
        partial = dict.fromkeys(self.paths, "")
        while not self.stop.is_set():
            for path in self.paths:
                try:
                    with path.open("rb") as f:
                        f.seek(offsets[path])
                        chunk = f.read()
                except FileNotFoundError:
                    continue
                offsets[path] += len(chunk)
                text = partial[path] + chunk.decode("utf-8", "replace")
                *done, partial[path] = re.split(r"\r?\n", text)
                for line in done:
                    self._line(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line))
            time.sleep(0.2)

    def _line(self, line: str) -> None:
        t = time.monotonic() - self.start
        self.lines.append(line)
        self.log(f"[{t:7.1f}s] {line}")
        for name, pattern in MILESTONES:
            if name not in self.seen and pattern.search(line):
                self.seen[name] = t

    def wait_for(self, name: str, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if name in self.seen:
                return True
            time.sleep(0.5)
        return name in self.seen


def qemu_command(
    machine: str,
    disk: Path,
    boot: Path,
    serials: list[Path],
    port: int,
    monitor: Path,
    ssh_port: int | None = None,
) -> list[str]:
    kernel = str(boot / "vmlinuz")
    initrd = str(boot / "initrd.img")
    net = f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:8080"
    if ssh_port is not None:
        net += f",hostfwd=tcp:127.0.0.1:{ssh_port}-:22"
    serial = [arg for path in serials for arg in ("-serial", f"file:{path}")]
    mon = f"unix:{monitor},server=on,wait=off"
    common = ["-nographic", "-monitor", mon, "-no-reboot", *serial]
    if machine == "amd64":
        return [
            "qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-smp", "2",
            "-kernel", kernel, "-initrd", initrd,
            # no_timer_check: a loaded host can make TCG too slow for the kernel's IO-APIC check.
            "-append", f"root=LABEL=ledgrab-root rw console=ttyS0 no_timer_check {TEST_ARGS}",
            "-drive", f"file={disk},format=raw,if=virtio",
            "-netdev", net, "-device", "virtio-net-pci,netdev=n0", *common,
        ]  # fmt: skip
    if machine == "virt":
        return [
            "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a53", "-m", "1024", "-smp", "2",
            "-kernel", kernel, "-initrd", initrd,
            "-append", f"root=LABEL=ledgrab-root rw console=ttyAMA0 net.ifnames=0 {TEST_ARGS}",
            "-drive", f"file={disk},format=raw,if=none,id=d0",
            "-device", "virtio-blk-device,drive=d0",
            "-netdev", net, "-device", "virtio-net-device,netdev=n0", *common,
        ]  # fmt: skip
    # raspi3b: the same kernel, initrd, device tree and command line the Pi firmware would use.
    cmdline = (boot / "cmdline.txt").read_text().strip()
    return [
        "qemu-system-aarch64", "-M", "raspi3b", "-m", "1024",
        "-kernel", kernel, "-initrd", initrd, "-dtb", str(boot / "bcm2837-rpi-3-b.dtb"),
        "-append", f"{cmdline} {TEST_ARGS}",
        "-drive", f"file={disk},format=raw,if=sd", *common,
    ]  # fmt: skip


def power_off(qemu: subprocess.Popen, monitor: Path) -> None:
    """Ask the guest to shut down (ACPI or the virt power key); pull the plug if it does not."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(monitor))
            s.sendall(b"system_powerdown\n")
            time.sleep(1)
    except OSError:
        pass
    try:
        qemu.wait(timeout=90)
    except subprocess.TimeoutExpired:
        qemu.kill()
        qemu.wait()


def fat_report(disk: Path) -> dict[str, str]:
    """ledgrab-report.txt from the FAT partition (the guest may still be running): its fields."""
    out = subprocess.run(
        ["mtype", "-i", fat(disk, partitions(disk)[0]["start"]), "::ledgrab-report.txt"],
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)


def pinned_request(
    port: int,
    method: str,
    path: str,
    fingerprint: str,
    key: str | None = None,
    body: object = None,
) -> tuple[int, bytes]:
    """One request over TLS, trusting nothing but the fingerprint: checked before a header is
    sent. `body`, when given, goes as JSON."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        conn.connect()
        der = conn.sock.getpeercert(binary_form=True) or b""
        if hashlib.sha256(der).hexdigest() != fingerprint.replace(":", "").lower():
            raise ssl.SSLError(f"the server's certificate is not {fingerprint}")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def pinned_get(port: int, path: str, fingerprint: str, key: str | None = None) -> tuple[int, bytes]:
    return pinned_request(port, "GET", path, fingerprint, key)


def health(port: int, fingerprint: str) -> dict | None:
    try:
        status, body = pinned_get(port, "/health", fingerprint)
        return json.loads(body) if status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None


def wait_for_health(
    qemu: subprocess.Popen, disk: Path, port: int, deadline: float
) -> tuple[str, dict | None]:
    """The fingerprint the guest published on its FAT partition, and /health pinned to it
    (None if it never answered before the deadline or the guest stopped)."""
    fingerprint, result = "", None
    while time.monotonic() < deadline and qemu.poll() is None:
        fingerprint = fat_report(disk).get("tls_fingerprint_sha256", "")
        result = health(port, fingerprint) if fingerprint else None
        if result is not None:
            break
        time.sleep(2)
    return fingerprint, result


def api_status(port: int, fingerprint: str, key: str | None) -> int | None:
    try:
        return pinned_get(port, "/api/v1/system/api-keys", fingerprint, key)[0]
    except (OSError, http.client.HTTPException):
        return None


def prepare(
    image: Path, machine: str, work: Path, hostname: str, malformed: bool
) -> tuple[Path, Path]:
    disk = work / "disk.img"
    subprocess.run(["cp", "--sparse=always", str(image), str(disk)], check=True)
    size = disk.stat().st_size
    # The emulated SD card must be a power of two; elsewhere the spare room lets the data grow.
    target = 1 << (size - 1).bit_length() if machine == "raspi3b" else size + 512 * MIB
    os.truncate(disk, target)
    parts = partitions(disk)
    boot_off = parts[0]["start"]
    boot = work / "boot"
    boot.mkdir()
    names = fat_names(disk, boot_off)
    if machine == "amd64":
        mcopy_out(disk, boot_off, "vmlinuz", boot / "vmlinuz")
        mcopy_out(disk, boot_off, "initrd.img", boot / "initrd.img")
    else:
        kernel = sorted(n for n in names if n.startswith("vmlinuz-"))[-1]
        initrd = sorted(n for n in names if n.startswith("initrd.img-"))[-1]
        mcopy_out(disk, boot_off, kernel, boot / "vmlinuz")
        mcopy_out(disk, boot_off, initrd, boot / "initrd.img")
        mcopy_out(disk, boot_off, "cmdline.txt", boot / "cmdline.txt")
        mcopy_out(disk, boot_off, "config.txt", boot / "config.txt")
        if machine == "raspi3b":
            mcopy_out(disk, boot_off, "bcm2837-rpi-3-b.dtb", boot / "bcm2837-rpi-3-b.dtb")
    settings = work / "ledgrab.txt"
    settings.write_text(firstboot_text(hostname, malformed))
    subprocess.run(
        ["mcopy", "-o", "-i", fat(disk, boot_off), str(settings), "::ledgrab.txt"], check=True
    )
    return disk, boot


class Log:
    """Prints each line, and appends it to `path` too when one is given."""

    def __init__(self, path: Path | None) -> None:
        self.file = path.open("w") if path else None

    def __call__(self, msg: str) -> None:
        print(msg, flush=True)
        if self.file:
            self.file.write(msg + "\n")
            self.file.flush()

    def verdict(self, title: str, failures: list[str]) -> int:
        """Each failure, then passed or FAILED; closes the file; the exit status."""
        for f in failures:
            self(f"FAIL: {f}")
        self(f"{title}: {'FAILED' if failures else 'passed'}")
        if self.file:
            self.file.close()
        return 1 if failures else 0


def discard(work: Path, log) -> None:
    """Remove the scratch directory, unless LEDGRAB_BOOTTEST_KEEP=1 asks to keep it."""
    if os.environ.get("LEDGRAB_BOOTTEST_KEEP") != "1":
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("machine", choices=["amd64", "virt", "raspi3b"])
    parser.add_argument("image", type=Path)
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the whole boot")
    parser.add_argument("--console-log", type=Path, help="also write the console here")
    parser.add_argument(
        "--malformed", action="store_true", help="boot with a ledgrab.txt that has bad lines"
    )
    args = parser.parse_args(argv)

    log = Log(args.console_log)

    hostname = f"lg-smoke-{args.machine}"
    work = Path(tempfile.mkdtemp(prefix=f"ledgrab-boot-{args.machine}-"))
    failures: list[str] = []
    try:
        disk, boot = prepare(args.image.resolve(), args.machine, work, hostname, args.malformed)
        serials = [work / "serial0.log", work / "serial1.log"]
        port = free_port()
        monitor = work / "monitor.sock"
        cmd = qemu_command(args.machine, disk, boot, serials, port, monitor)
        log("$ " + " ".join(cmd))
        start = time.monotonic()
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        console = Console(serials, start, log)
        deadline = start + args.timeout
        result = None
        if args.machine == "raspi3b":
            if not console.wait_for("ledgrab started", deadline):
                failures.append("console never showed ledgrab.service started")
        else:
            fingerprint, result = wait_for_health(qemu, disk, port, deadline)
            if not fingerprint:
                failures.append("no TLS fingerprint in ledgrab-report.txt on the FAT partition")
            elif result is None:
                failures.append("GET /health (pinned HTTPS) never answered through the forward")
            else:
                t = time.monotonic() - start
                log(f"[{t:7.1f}s] fingerprint from ledgrab-report.txt: {fingerprint}")
                log(f"[{t:7.1f}s] GET https /health (pinned) -> {json.dumps(result)}")
                served = result.get("components", {}).get("tls", {}).get("details", {})
                if served.get("fingerprint_sha256") != fingerprint:
                    failures.append("/health names another fingerprint than the FAT report")
                with_key = api_status(port, fingerprint, API_KEY)
                without = api_status(port, fingerprint, None)
                log(f"[{t:7.1f}s] GET /api/v1/system/api-keys: key from ledgrab.txt -> {with_key}")
                log(f"[{t:7.1f}s] GET /api/v1/system/api-keys: no key -> {without}")
                if without != 401:
                    failures.append("the API answered without a key")
                elif (with_key == 200) == args.malformed:
                    failures.append("the API key from ledgrab.txt was not handled as expected")
        console.wait_for("login prompt", min(deadline, time.monotonic() + 120))
        power_off(qemu, monitor)
        console.stop.set()
        console.thread.join()
        elapsed = time.monotonic() - start

        parts = partitions(disk)
        fat_text = subprocess.run(
            ["mtype", "-i", fat(disk, parts[0]["start"]), "::ledgrab.txt"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        root_hostname = ext4_cat(disk, parts[1], "/etc/hostname", work).strip()
        report_text = ext4_cat(disk, parts[2], "/firstboot-report.json", work)
        log("--- ledgrab.txt on the FAT partition after the boot ---")
        log(fat_text.rstrip())
        log(f"--- /etc/hostname: {root_hostname!r}")
        log(f"--- firstboot-report.json: {report_text.strip()}")
        if PASSPHRASE in fat_text or API_KEY in fat_text:
            failures.append("a secret is still in ledgrab.txt")
        if root_hostname != hostname:
            failures.append(f"hostname is {root_hostname!r}, expected {hostname!r}")
        if not report_text.strip():
            failures.append("no first-boot report on the data partition")
        elif args.malformed:
            problems = json.loads(report_text)["problems"]
            if [p["key"] for p in problems] != ["api_key", "colour"]:
                failures.append(f"the report does not list the two bad lines: {problems}")
            if not any(
                "ledgrab first boot: " in line and "colour" in line for line in console.lines
            ):
                failures.append("the bad line was not reported in the journal")
        failures += frame_priority_failures(console.lines)
        if not any(f"{hostname} login:" in line for line in console.lines):
            log("note: no login prompt with the new hostname seen on the console")
        log("--- milestones (seconds since qemu started) ---")
        for name, _ in MILESTONES:
            seen = console.seen.get(name)
            log(f"  {name:16} {f'{seen:7.1f}' if seen is not None else '      -'}")
        log(f"  {'total':16} {elapsed:7.1f}")
    finally:
        discard(work, log)
    return log.verdict(f"boot test {args.machine}", failures)


if __name__ == "__main__":
    sys.exit(main())
