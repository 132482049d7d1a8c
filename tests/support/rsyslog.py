"""Debian's rsyslogd as a child process of a test: UDP (imudp), TCP (imptcp, octet counting) and
TLS (imtcp with the gtls driver) inputs on loopback, each writing the raw messages it receives
to its own file; and a small RFC 5424 parser to read them back."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.tls_ca import TestCA

__all__ = ["Rsyslog", "needs_rsyslog", "parse_rfc5424"]

needs_rsyslog = pytest.mark.skipif(
    shutil.which("rsyslogd") is None, reason="needs rsyslogd (scripts/system-deps.sh test)"
)

_CONF = """
global(workDirectory="{work}" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="{ca}"
       defaultNetstreamDriverCertFile="{cert}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imudp")
module(load="imptcp")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1"
       streamDriver.authMode="{auth}")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="udp") {{ action(type="omfile" file="{out}/udp.log" template="raw") }}
ruleset(name="tcp") {{ action(type="omfile" file="{out}/tcp.log" template="raw") }}
ruleset(name="tls") {{ action(type="omfile" file="{out}/tls.log" template="raw") }}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="udp")
input(type="imptcp" address="127.0.0.1" port="{tcp}" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="{tls}" ruleset="tls")
"""


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Rsyslog:
    """start()/stop() keep the same ports, so a stopped collector comes back where it was."""

    def __init__(self, directory: Path, ca: TestCA, *, require_client_cert: bool = False) -> None:
        self.dir = directory
        self.ca = ca
        work = directory / "work"
        work.mkdir(parents=True, exist_ok=True)
        cert, key = ca.issue("rsyslog test server")
        self.ports = {
            "udp": _free_port(socket.SOCK_DGRAM),
            "tcp": _free_port(socket.SOCK_STREAM),
            "tls": _free_port(socket.SOCK_STREAM),
        }
        self.conf = directory / "rsyslog.conf"
        self.conf.write_text(
            _CONF.format(
                work=work,
                out=directory,
                ca=ca.write(directory, "ca", ca.cert_pem),
                cert=ca.write(directory, "server", cert),
                key=ca.write(directory, "server-key", key),
                auth="x509/certvalid" if require_client_cert else "anon",
                **self.ports,
            )
        )
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        pidfile = self.dir / "rsyslogd.pid"
        pidfile.unlink(missing_ok=True)
        with (self.dir / "rsyslogd.out").open("ab") as out:
            self._proc = subprocess.Popen(
                ["rsyslogd", "-n", "-f", str(self.conf), "-i", str(pidfile)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        for port in (self.ports["tcp"], self.ports["tls"]):
            while True:
                if self._proc.poll() is not None:
                    raise AssertionError(f"rsyslogd exited: {self.output()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"rsyslogd did not listen: {self.output()}") from None
                    time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=20)
            self._proc = None

    def output(self) -> str:
        path = self.dir / "rsyslogd.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def lines(self, transport: str) -> list[bytes]:
        """The raw messages received on one input, oldest first."""
        path = self.dir / f"{transport}.log"
        if not path.exists():
            return []
        return [line for line in path.read_bytes().split(b"\n") if line]

    def __enter__(self) -> Rsyslog:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_HEADER = re.compile(
    rb"^<(?P<pri>\d{1,3})>(?P<version>1) (?P<timestamp>\S+) (?P<hostname>\S+) "
    rb"(?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
)
_ELEMENT = re.compile(rb'\[(?P<id>[^ \]=]+)(?P<params>(?: [^ =\]"]+="(?:[^"\\\]]|\\.)*")*)\]')
_PARAM = re.compile(rb' (?P<name>[^ =\]"]+)="(?P<value>(?:[^"\\\]]|\\.)*)"')
_UNESCAPE = re.compile(rb"\\([\"\\\]])")
BOM = b"\xef\xbb\xbf"


def parse_rfc5424(line: bytes) -> dict:
    """HEADER SP STRUCTURED-DATA [SP MSG] -> a dict; sd is {sd-id: {name: value}}. Raises
    ValueError on anything that is not RFC 5424 (an escape other than \\" \\\\ \\] included)."""
    head = _HEADER.match(line)
    if head is None:
        raise ValueError(f"not an RFC 5424 header: {line[:80]!r}")
    rest = line[head.end() :]
    sd: dict[str, dict[str, str]] = {}
    if rest.startswith(b"-"):
        rest = rest[1:]
    else:
        while rest.startswith(b"["):
            element = _ELEMENT.match(rest)
            if element is None:
                raise ValueError(f"bad structured data: {rest[:80]!r}")
            params = {
                p["name"].decode(): _UNESCAPE.sub(rb"\1", p["value"]).decode()
                for p in _PARAM.finditer(element["params"])
            }
            sd[element["id"].decode()] = params
            rest = rest[element.end() :]
    if rest and not rest.startswith(b" "):
        raise ValueError(f"no space before MSG: {rest[:80]!r}")
    msg = rest[1:]
    has_bom = msg.startswith(BOM)
    return {
        "pri": int(head["pri"]),
        "timestamp": head["timestamp"].decode(),
        "hostname": head["hostname"].decode(),
        "app": head["app"].decode(),
        "procid": head["procid"].decode(),
        "msgid": head["msgid"].decode(),
        "sd": sd,
        "bom": has_bom,
        "msg": (msg[3:] if has_bom else msg).decode(),
    }
