"""The names and addresses the device's certificate must carry: the host name, `<host>.local`,
loopback and the board's current addresses (standard library and ifaddr only)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import ifaddr

__all__ = ["HostNames", "IPAddress", "current_host_names", "sorted_ips"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def sorted_ips(ips) -> tuple[IPAddress, ...]:
    """IPv4 before IPv6, each in numeric order."""
    return tuple(sorted(ips, key=lambda i: (i.version, int(i))))


@dataclass(frozen=True)
class HostNames:
    """The DNS names and IP addresses a certificate of this device must name (sorted, unique)."""

    dns: tuple[str, ...]
    ips: tuple[IPAddress, ...]

    @classmethod
    def of(cls, hostname: str, addresses: list[str]) -> HostNames:
        short = hostname.split(".")[0].lower() or "ledgrab"
        dns = {short, f"{short}.local", *LOOPBACK_NAMES}
        if "." in hostname:
            dns.add(hostname.lower())
        ips = set(LOOPBACK_ADDRESSES)
        for text in addresses:
            # A link-local IPv6 address carries its interface ("fe80::1%eth0"): browsers cannot
            # reach it by URL, and a certificate cannot name the zone.
            ip = ipaddress.ip_address(text.split("%")[0])
            if not ip.is_link_local:
                ips.add(ip)
        return cls(tuple(sorted(dns)), sorted_ips(ips))

    @classmethod
    def from_strings(cls, dns: list[str], ips: list[str]) -> HostNames:
        return cls(tuple(sorted(dns)), sorted_ips(map(ipaddress.ip_address, ips)))

    def as_strings(self) -> dict[str, list[str]]:
        return {"dns": list(self.dns), "ips": [str(ip) for ip in self.ips]}

    @property
    def common_name(self) -> str:
        return next(n for n in self.dns if n.endswith(".local"))


def current_host_names() -> HostNames:
    """This machine's names and addresses now (ifaddr: every interface that is up)."""
    addresses: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            addresses.append(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
    return HostNames.of(socket.gethostname(), addresses)
