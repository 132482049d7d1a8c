"""check_lan_address(): literal public IPs are refused; loopback, private, link-local, names pass.

The rule keeps the API from being used to aim LED traffic (UDP floods, in effect) at hosts off
the LAN. A host name passes validation here; drivers resolve it when they open and refuse it then
if it resolves to a public address (see `resolve_lan_address`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket

__all__ = [
    "LAN_ADDRESS_PATTERN",
    "AddressRefused",
    "check_lan_address",
    "is_lan_ip",
    "resolve_lan_address",
]

# RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
# "\-" in a class: the form a browser's pattern attribute (the "v" flag) also accepts.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_HEX = r"[0-9a-fA-F]{1,4}"
# What check_lan_address accepts, as a JSON Schema pattern for clients (a slightly narrower set:
# the common private, loopback and link-local forms, and host names with a letter in them).
LAN_ADDRESS_PATTERN = (
    "^("
    + rf"(10|127)(\.{_OCTET}){{3}}"
    + rf"|192\.168(\.{_OCTET}){{2}}"
    + rf"|172\.(1[6-9]|2[0-9]|3[01])(\.{_OCTET}){{2}}"
    + rf"|169\.254(\.{_OCTET}){{2}}"
    + r"|::1"
    + rf"|[fF][eE]80::({_HEX}:){{0,3}}{_HEX}"
    + rf"|[fF][dD][0-9a-fA-F]{{2}}::{_HEX}"
    + rf"|(?=.*[A-Za-z]){_LABEL}(\.{_LABEL})*"
    + ")$"
)


class AddressRefused(ValueError):
    """The address is not on the LAN (or not an address at all)."""


def is_lan_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_unspecified:
        return False
    # IPv6 unique-local (fc00::/7) counts as private in ipaddress; 100.64/10 (CGNAT) does not.
    return ip.is_loopback or ip.is_private or ip.is_link_local


def check_lan_address(address: str) -> str:
    """Return the address unchanged if allowed, else raise AddressRefused saying why."""
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        if text and not text.replace(".", "").isdigit() and _HOST_RE.match(text):
            return text
        raise AddressRefused(f"{address!r} is neither an IP address nor a host name") from None
    if not is_lan_ip(ip):
        raise AddressRefused(
            f"{address} is not a LAN address: only loopback, private (10/8, 172.16/12, "
            "192.168/16, fc00::/7) and link-local addresses or host names are allowed"
        )
    return text


async def resolve_lan_address(address: str, port: int) -> tuple[str, int]:
    """Resolve a name (without blocking the loop) to its first address; refuse a public one."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(
        address.strip("[]"), port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP
    )
    if not infos:
        raise AddressRefused(f"{address} does not resolve")
    host = infos[0][4][0]
    if not is_lan_ip(ipaddress.ip_address(host)):
        raise AddressRefused(f"{address} resolves to {host}, which is not a LAN address")
    return host, port
