"""Is a DDP or E1.31 receiver on the LAN there? What can be known without a reply protocol.

UDP receivers acknowledge nothing, so "the name resolves" says nothing about the device. What can
be known, strongest first:
- a DDP receiver that answers a DDP status query (flags QUERY, destination 251) is confirmed;
- an ICMP "port unreachable" means the host is up but nothing listens on the port;
- on the local link, the kernel's neighbour table (ARP for IPv4, NDP for IPv6) after the probe
  datagram: REACHABLE/STALE/DELAY/PROBE mean the address answered at the link layer,
  FAILED/INCOMPLETE mean it did not;
- otherwise (a routed address, loopback, or no `ip` command): sending, with no confirmation.

Sending the probe makes the kernel create the neighbour entry of an address on the local link
at once (INCOMPLETE until it answers). So the table is read while the probe waits only for such
an address: never for loopback, and no more once a read finds no entry at all. Each read runs
`ip`, a fork and an exec of the server, and a check repeats every few seconds per device.

The probe datagram is harmless to a receiver: a DDP status query carries no pixels, and the
E1.31 probe is an empty datagram, which no receiver takes for a DMX packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import shutil
import struct
import subprocess
import time

import msgspec

from ledgrab.utils.lan_address import AddressRefused, resolve_lan_address

__all__ = ["Reachability", "probe_udp_receiver"]

# DDP header (www.3waylabs.com/ddp): flags (version 1 = 0x40, QUERY = 0x02, REPLY = 0x04),
# sequence, data type, destination (251 = status), offset u32, length u16.
_DDP_HEADER = struct.Struct(">BBBBIH")
_DDP_STATUS_QUERY = _DDP_HEADER.pack(0x40 | 0x02, 0, 0, 251, 0, 0)
_DDP_REPLY = 0x04
_ANSWERED = {"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT"}
_SILENT = {"FAILED", "INCOMPLETE"}
_POLL_S = 0.2
_IP = shutil.which("ip")  # iproute2; looked up once, not on the event loop at every check


class Reachability(msgspec.Struct, kw_only=True):
    state: str  # online | offline | unconfirmed
    method: str  # ddp-status | icmp | neighbour | none | resolve
    error: str | None = None
    latency_ms: float | None = None


class _Probe(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) >= _DDP_HEADER.size and data[0] & _DDP_REPLY and not self.reply.done():
            self.reply.set_result("reply")

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionRefusedError) and not self.reply.done():
            self.reply.set_result("refused")


async def probe_udp_receiver(address: str, port: int, protocol: str, wait_s: float) -> Reachability:
    """Send one probe datagram to the receiver, then say what is known (see the module doc)."""
    started = time.perf_counter()
    try:
        host, _ = await resolve_lan_address(address, port)
    except (OSError, AddressRefused) as exc:
        return Reachability(state="offline", method="resolve", error=f"{address}: {exc}")
    loop = asyncio.get_running_loop()
    try:
        transport, probe = await loop.create_datagram_endpoint(_Probe, remote_addr=(host, port))
    except OSError as exc:
        return Reachability(state="offline", method="send", error=f"{address}:{port}: {exc}")
    answer = None
    try:
        transport.sendto(_DDP_STATUS_QUERY if protocol == "ddp" else b"")
        deadline = loop.time() + wait_s
        neighbour = None
        on_link = _may_be_on_link(host)
        while answer is None and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(asyncio.shield(probe.reply), _POLL_S)
            if answer is None and on_link:
                neighbour = await neighbour_state(host)
                on_link = neighbour is not None
                if neighbour in _ANSWERED or neighbour == "FAILED":
                    break
        latency = round((time.perf_counter() - started) * 1000, 2)
    finally:
        transport.close()
    where = f"{address}:{port}"
    if answer == "reply":
        return Reachability(state="online", method="ddp-status", latency_ms=latency)
    if answer == "refused":
        return Reachability(
            state="offline", method="icmp",
            error=f"{address} answers, but nothing receives {protocol.upper()} on port {port}",
        )  # fmt: skip
    if neighbour in _ANSWERED:
        return Reachability(state="online", method="neighbour", latency_ms=None)
    if neighbour in _SILENT:
        return Reachability(
            state="offline", method="neighbour",
            error=f"no answer from {address} on the local network (neighbour {neighbour})",
        )  # fmt: skip
    return Reachability(
        state="unconfirmed", method="none",
        error=f"sending to {where}, no confirmation: it answers no queries and is not "
        "on the local network segment",
    )  # fmt: skip


def _may_be_on_link(host: str) -> bool:
    """False for an address the neighbour table never holds (loopback)."""
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


async def neighbour_state(host: str) -> str | None:
    """The kernel's neighbour-table state of `host` (REACHABLE, FAILED, …), None if no entry."""
    if _IP is None:
        return None
    # A short command run to completion on a worker thread: asyncio's own subprocess support
    # adds a child-watcher thread per call, and in the test suite one such call failed inside
    # asyncio with "release unlocked lock" (seen once in a full run).
    try:
        done = await asyncio.to_thread(
            subprocess.run, [_IP, "-j", "neigh", "show", "to", host],
            capture_output=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = done.stdout
    try:
        entries = json.loads(out or b"[]")
    except ValueError:
        return None
    for entry in entries:
        states = entry.get("state") or []
        if entry.get("dst") == host and states:
            return str(states[0])
    return None
