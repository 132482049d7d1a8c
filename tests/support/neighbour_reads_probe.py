"""Run inside `unshare -n` after NEIGHBOUR_SETUP: probe three silent or absent UDP receivers with
`ip` wrapped to count its runs; print each result and how many times `ip` ran, as JSON."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tempfile
from pathlib import Path

from ledgrab.core.devices import reachability
from tests.support.unreachable_probe import NOBODY, UNREACHABLE_SEGMENT

# The LAN segment of unreachable_probe, and an address of this host's own that routes over lo.
OWN_ADDRESS = "10.79.0.1"
NEIGHBOUR_SETUP = f"{UNREACHABLE_SEGMENT} && ip addr add {OWN_ADDRESS}/32 dev lo"


def _counting_ip(folder: Path, real_ip: str) -> tuple[str, Path]:
    """An `ip` that appends a line to a file, then runs the real one."""
    runs = folder / "runs"
    runs.touch()
    wrapper = folder / "ip"
    wrapper.write_text(f'#!/bin/sh\necho run >> "{runs}"\nexec "{real_ip}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper), runs


async def _probe(host: str, port: int, runs: Path, wait_s: float) -> dict:
    before = len(runs.read_text().splitlines())
    seen = await reachability.probe_udp_receiver(host, port, "ddp", wait_s)
    return {
        "state": seen.state,
        "method": seen.method,
        "ip_runs": len(runs.read_text().splitlines()) - before,
    }


async def main(wait_s: float) -> dict:
    real_ip = reachability._IP
    assert real_ip is not None, "no ip command"
    silent = []
    for host in ("127.0.0.1", OWN_ADDRESS):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        silent.append(sock)
    with tempfile.TemporaryDirectory() as tmp:
        reachability._IP, runs = _counting_ip(Path(tmp), real_ip)
        results = {
            "loopback": await _probe("127.0.0.1", silent[0].getsockname()[1], runs, wait_s),
            "own address": await _probe(OWN_ADDRESS, silent[1].getsockname()[1], runs, wait_s),
            "nobody on the link": await _probe(NOBODY, 4048, runs, 4.0),
        }
    for sock in silent:
        sock.close()
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0))))
