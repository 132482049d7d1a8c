"""systemd notifications (READY, WATCHDOG, STOPPING) over $NOTIFY_SOCKET; no-op without systemd."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

__all__ = ["notify", "watchdog_interval", "watchdog_loop"]

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Send one datagram to systemd; return False when there is no socket to send to."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.setblocking(False)
            sock.sendto(message.encode(), address)
    except OSError as exc:
        log.warning("could not notify systemd (%s): %s", message.split("=")[0], exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half the WatchdogSec systemd asked for, in seconds, or None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    with contextlib.suppress(ValueError):
        return max(int(usec) / 2_000_000, 0.05)
    return None


async def watchdog_loop(interval: float) -> None:
    """Ping from the event loop itself: if the loop stops turning, the pings stop too."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
