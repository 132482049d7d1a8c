"""UDP listeners for DDP and E1.31 shared by capture inputs; bad datagrams are counted, dropped."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from typing import Any

import msgspec

from ledgrab.core.effects.capture_input import CaptureInput
from ledgrab.core.effects.capture_packets import PacketError, parse_ddp, parse_e131
from ledgrab.core.event_bus import EventBus

__all__ = ["PROTOCOLS", "CaptureBindError", "CaptureHub", "ListenerStats"]

log = logging.getLogger("ledgrab.capture")

PROTOCOLS = ("ddp", "e131")
# Linux caps multicast memberships per socket (net.ipv4.igmp_max_memberships, 20 by default).
_MAX_GROUPS = 20


class CaptureBindError(Exception):
    """The receive port cannot be opened; the message names the port and what to do."""


class ListenerStats(msgspec.Struct):
    datagrams: int = 0
    malformed: int = 0
    truncated: int = 0
    oversized: int = 0
    unsupported: int = 0
    ignored: int = 0  # valid, but no pixel data (DDP query/status, E1.31 sync/discovery/preview)
    unrouted: int = 0  # valid pixel data for a universe no capture source listens to


def e131_group(universe: int) -> str:
    """E1.31-2016 9.3.1: universe u is multicast to 239.255.<u high byte>.<u low byte>."""
    return f"239.255.{universe >> 8}.{universe & 0xFF}"


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, protocol: str, port: int, sock: socket.socket) -> None:
        self.protocol = protocol
        self.port = port
        self.sock = sock
        self.starting: asyncio.Task | None = None
        self.closed = False
        self.stats = ListenerStats()
        self.inputs: list[CaptureInput] = []
        self.routes: dict[int, list[CaptureInput]] = {}  # E1.31 universe -> inputs
        self.groups: dict[str, int] = {}  # joined multicast group -> inputs using it
        self.transport: asyncio.DatagramTransport | None = None
        self._multicast_warned = False

    def started(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is not None:
            self.sock.close()
            return
        self.transport = task.result()[0]
        if self.closed:
            self.transport.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        elif self.starting is not None and self.starting.done():
            self.sock.close()
        # else: started() closes the transport as soon as it exists

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stats.datagrams += 1
        try:
            if self.protocol == "ddp":
                self._ddp(data, addr)
            else:
                self._e131(data, addr)
        except PacketError as exc:
            setattr(self.stats, exc.reason, getattr(self.stats, exc.reason) + 1)
            log.debug("dropped a %s datagram from %s: %s", self.protocol, addr[0], exc)

    def error_received(self, exc: Exception) -> None:
        log.debug("%s listener on port %d: %s", self.protocol, self.port, exc)

    def _ddp(self, data: bytes, addr: tuple[str, int]) -> None:
        packet = parse_ddp(data)
        if packet is None:
            self.stats.ignored += 1
            return
        if not self.inputs:
            self.stats.unrouted += 1
        label = f"{addr[0]}:{addr[1]}"
        for target in self.inputs:
            target.offer_ddp(addr, label, packet.offset, packet.data, packet.push)

    def _e131(self, data: bytes, addr: tuple[str, int]) -> None:
        packet = parse_e131(data)
        if packet is None:
            self.stats.ignored += 1
            return
        targets = self.routes.get(packet.universe)
        if not targets:
            self.stats.unrouted += 1
            return
        for target in targets:
            if packet.terminated:
                target.terminate(packet.cid)
                continue
            label = f"{packet.source_name or 'sACN'} ({addr[0]})"
            target.offer_e131(
                packet.cid, label, packet.priority, packet.universe, packet.sequence, packet.data
            )

    # ---- membership ------------------------------------------------------------------------

    def add(self, target: CaptureInput, multicast_interface: str | None) -> None:
        self.inputs.append(target)
        if self.protocol != "e131":
            return
        for universe in range(target.universe, target.universe + target.universe_count):
            self.routes.setdefault(universe, []).append(target)
            if multicast_interface is not None:
                self._join(e131_group(universe), multicast_interface)

    def remove(self, target: CaptureInput, multicast_interface: str | None) -> None:
        self.inputs.remove(target)
        for universe in range(target.universe, target.universe + target.universe_count):
            routed = self.routes.get(universe)
            if routed and target in routed:
                routed.remove(target)
                if not routed:
                    del self.routes[universe]
            group = e131_group(universe)
            if multicast_interface is not None and group in self.groups:
                self.groups[group] -= 1
                if not self.groups[group]:
                    del self.groups[group]
                    self._membership(socket.IP_DROP_MEMBERSHIP, group, multicast_interface)

    def _join(self, group: str, interface: str) -> None:
        if group in self.groups:
            self.groups[group] += 1
            return
        if len(self.groups) >= _MAX_GROUPS or not self._membership(
            socket.IP_ADD_MEMBERSHIP, group, interface
        ):
            if not self._multicast_warned:
                self._multicast_warned = True
                log.warning(
                    "E1.31 on port %d: cannot join multicast group %s (limit %d groups per "
                    "port); unicast to this device still works",
                    self.port,
                    group,
                    _MAX_GROUPS,
                )
            return
        self.groups[group] = 1

    def _membership(self, option: int, group: str, interface: str) -> bool:
        try:
            self.sock.setsockopt(
                socket.IPPROTO_IP, option, socket.inet_aton(group) + socket.inet_aton(interface)
            )
        except OSError as exc:
            log.debug("multicast %s %s: %s", option, group, exc)
            return False
        return True


class CaptureHub:
    """Opens one UDP listener per (protocol, port) on demand; open_input()/close_input() on the
    event loop. A listener lives while an input uses it."""

    def __init__(
        self,
        *,
        bus: EventBus | None = None,
        bind_host: str = "0.0.0.0",
        multicast: bool = True,
        multicast_interface: str = "0.0.0.0",
        receive_buffer: int = 1 << 20,
    ) -> None:
        self._bus = bus
        self._bind_host = bind_host
        self._multicast_interface = multicast_interface if multicast else None
        self._receive_buffer = receive_buffer
        self._listeners: dict[tuple[str, int], _Listener] = {}

    def open_input(self, *, protocol: str, port: int, **kwargs: Any) -> CaptureInput:
        """A new input fed from UDP `port` (on the running loop); raises CaptureBindError if the
        port cannot be opened. Datagrams that arrive before the transport is up wait in the
        kernel's queue."""
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown capture protocol {protocol!r}")
        listener = self._listeners.get((protocol, port))
        if listener is None:
            listener = self._open(protocol, port)
        target = CaptureInput(protocol=protocol, bus=self._bus, **kwargs)
        listener.add(target, self._multicast_interface)
        return target

    def close_input(self, target: CaptureInput) -> None:
        for key, listener in list(self._listeners.items()):
            if target in listener.inputs:
                listener.remove(target, self._multicast_interface)
                target.close()
                if not listener.inputs:
                    del self._listeners[key]
                    listener.close()
                return

    def close(self) -> None:
        for listener in list(self._listeners.values()):
            for target in list(listener.inputs):
                self.close_input(target)

    def listener_stats(self, protocol: str, port: int) -> ListenerStats | None:
        listener = self._listeners.get((protocol, port))
        return listener.stats if listener is not None else None

    def multicast_groups(self, port: int) -> list[str]:
        listener = self._listeners.get(("e131", port))
        return sorted(listener.groups) if listener is not None else []

    def bound_port_of(self, protocol: str, port: int) -> int | None:
        """`port` if a listener for `protocol` is open on it, else None."""
        return port if (protocol, port) in self._listeners else None

    def bound_port(self, target: CaptureInput) -> int | None:
        """The UDP port an input receives on (useful when it was opened on port 0)."""
        for listener in self._listeners.values():
            if target in listener.inputs:
                return listener.port
        return None

    def _open(self, protocol: str, port: int) -> _Listener:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            # The kernel queue is the only buffer in front of the parser: a flood overflows it
            # and the kernel drops, so memory stays bounded whatever arrives.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer)
            sock.bind((self._bind_host, port))
        except OSError as exc:
            sock.close()
            raise CaptureBindError(_bind_message(protocol, self._bind_host, port, exc)) from None
        sock.setblocking(False)
        port = sock.getsockname()[1]
        listener = _Listener(protocol, port, sock)
        self._listeners[(protocol, port)] = listener
        loop = asyncio.get_running_loop()
        listener.starting = loop.create_task(
            loop.create_datagram_endpoint(lambda: listener, sock=sock), name=f"capture-{port}"
        )
        listener.starting.add_done_callback(listener.started)
        return listener


def _bind_message(protocol: str, host: str, port: int, exc: OSError) -> str:
    name = "DDP" if protocol == "ddp" else "E1.31"
    where = f"UDP {host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot receive {name} on {where}: the port is in use by another program (or "
            "another LedGrab); stop it or give this source another port"
        )
    if exc.errno == errno.EACCES:
        return f"cannot receive {name} on {where}: permission denied (ports below 1024 need root)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot receive {name} on {where}: {host} is not an address of this device"
    return f"cannot receive {name} on {where}: {exc.strerror or exc}"
