"""Browse mDNS for WLEDs and advertise LedGrab on zeroconf's own threads; failures only warn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import ifaddr
import msgspec
from zeroconf import (
    InterfaceChoice,
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)

from ledgrab.core.devices.wled_info import WledUnreachable, fetch_wled_info
from ledgrab.core.event_bus import EventBus
from ledgrab.utils.plain_text import displayable

__all__ = [
    "HTTPS_TYPE",
    "HTTP_TYPE",
    "LEDGRAB_TYPE",
    "WLED_TYPE",
    "Advertisement",
    "DiscoveredDevice",
    "DiscoveryUnavailable",
    "DiscoveryWatcher",
    "wled_led_count",
]

log = logging.getLogger("ledgrab.discovery")

WLED_TYPE = "_wled._tcp.local."
LEDGRAB_TYPE = "_ledgrab._tcp.local."
HTTP_TYPE = "_http._tcp.local."
HTTPS_TYPE = "_https._tcp.local."


class DiscoveryUnavailable(Exception):
    """mDNS cannot run here (no multicast, no interface); manual addresses still work."""


class DiscoveredDevice(msgspec.Struct, kw_only=True):
    name: str  # the instance name, e.g. "wled-kitchen"
    service: str  # the full mDNS service name
    host: str  # the first IPv4 address it announced
    hostname: str | None
    port: int
    mac: str | None
    led_count: int | None
    first_seen: float  # unix time
    last_seen: float


class Advertisement(msgspec.Struct, kw_only=True):
    instance_name: str
    port: int
    version: str
    api_path: str = "/api/v1"
    # SHA-256 of the server's TLS certificate (colon-separated hex); None: plain HTTP.
    fingerprint: str | None = None


LedCountFetcher = Callable[[str, int], int | None]


def wled_led_count(host: str, port: int) -> int | None:
    """The LED count a WLED reports on its JSON API, None if it does not answer."""
    try:
        return fetch_wled_info(host, port, timeout_s=1.5).led_count
    except WledUnreachable as exc:
        log.debug("no LED count for %s:%s: %s", host, port, exc)
        return None


class DiscoveryWatcher:
    """start_blocking()/stop_blocking() off the loop (or await start()/stop()); devices() any time.

    The browser's handler runs on zeroconf's browser thread; the table is guarded by a lock and
    every found/lost moment goes through `_device_found` / `_device_lost`, which publish on the
    thread-safe bus.
    """

    def __init__(
        self,
        bus: EventBus,
        *,
        interfaces: list[str] | None = None,
        advertisement: Advertisement | None = None,
        max_devices: int = 256,
        resolve_timeout_s: float = 2.0,
        led_count_fetcher: LedCountFetcher | None = wled_led_count,
    ) -> None:
        self._bus = bus
        self._interfaces = list(interfaces or [])
        self._advertisement = advertisement
        self._max_devices = max_devices
        self._resolve_ms = int(resolve_timeout_s * 1000)
        self._fetch_led_count = led_count_fetcher
        self._lock = threading.Lock()
        self._devices: dict[str, DiscoveredDevice] = {}
        # Replaced (never mutated) under the lock, so the event loop reads it without locking.
        self._snapshot: tuple[DiscoveredDevice, ...] = ()
        self._zc: Zeroconf | None = None
        self._browser: ServiceBrowser | None = None
        self._registered: list[ServiceInfo] = []
        # The newest certificate fingerprint told to us; one that arrives while the names are
        # still being registered (probing takes seconds) is announced once they are.
        self._fingerprint_now: str | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._table_full_warned = False
        self.state = "stopped"  # stopped | running | failed
        self.error: str | None = None
        self.ignored_table_full = 0

    # ---- lifecycle -------------------------------------------------------------------------

    def start_blocking(self) -> None:
        """Open mDNS, browse for WLEDs, advertise; on failure log one warning and stay failed."""
        if self._zc is not None:
            return
        local = _local_ipv4_addresses()
        if missing := [a for a in self._interfaces if a not in local]:
            self._fail(
                f"mDNS discovery is unavailable: {', '.join(missing)} is not an address of any "
                "interface here (discovery.interfaces); add devices by address instead"
            )
            return
        try:
            self._zc = Zeroconf(
                interfaces=self._interfaces or InterfaceChoice.All, ip_version=IPVersion.V4Only
            )
            self._browser = ServiceBrowser(self._zc, WLED_TYPE, handlers=[self._on_change])
        except (OSError, RuntimeError) as exc:
            self._fail(f"mDNS discovery is unavailable ({exc}); add devices by address instead")
            return
        self.state, self.error = "running", None
        where = ", ".join(self._interfaces) or "all interfaces"
        log.info("mDNS discovery browsing %s on %s", WLED_TYPE, where)
        if self._advertisement is not None:
            self._advertise(self._advertisement)

    def stop_blocking(self) -> None:
        """Withdraw the advertisements, stop browsing, close mDNS; safe to call twice."""
        zc, self._zc = self._zc, None
        browser, self._browser = self._browser, None
        if browser is not None:
            browser.cancel()
        if zc is not None:
            with contextlib.suppress(OSError, RuntimeError):
                if self._registered:
                    zc.unregister_all_services()
            zc.close()
        self._registered.clear()
        if self.state == "running":
            self.state = "stopped"

    async def start(self) -> None:
        """Start in a worker thread without holding up the caller (mDNS probing takes seconds)."""
        if self._start_task is None:
            self._start_task = asyncio.create_task(
                asyncio.to_thread(self.start_blocking), name="discovery-start"
            )

    async def stop(self) -> None:
        task, self._start_task = self._start_task, None
        if task is not None:
            with contextlib.suppress(Exception):
                await task
        await asyncio.to_thread(self.stop_blocking)

    # ---- queries ---------------------------------------------------------------------------

    def devices(self) -> list[DiscoveredDevice]:
        return sorted(self._snapshot, key=lambda d: d.name.lower())

    def scan_blocking(self, timeout_s: float) -> list[DiscoveredDevice]:
        """Send fresh queries, collect answers for timeout_s, return the whole table."""
        if self._zc is None:
            self.start_blocking()
        zc = self._zc
        if zc is None:
            raise DiscoveryUnavailable(self.error or "mDNS discovery is not running")
        browser = ServiceBrowser(zc, WLED_TYPE, handlers=[self._on_change])
        try:
            time.sleep(timeout_s)
        finally:
            browser.cancel()
        return self.devices()

    async def scan(self, timeout_s: float) -> list[DiscoveredDevice]:
        return await asyncio.to_thread(self.scan_blocking, timeout_s)

    # ---- browsing (zeroconf's browser thread) ----------------------------------------------

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            with self._lock:
                device = self._devices.pop(name, None)
                self._snapshot = tuple(self._devices.values())
            if device is not None:
                self._device_lost(device)
            return
        try:
            info = zeroconf.get_service_info(service_type, name, timeout=self._resolve_ms)
        except Exception as exc:  # a closing zeroconf or a bad record must not kill the browser
            log.debug("could not resolve %s: %s", name, exc)
            return
        if info is None:
            log.debug("%s did not answer a resolve within %d ms", name, self._resolve_ms)
            return
        self._upsert(name, info)

    def _upsert(self, service: str, info: ServiceInfo) -> None:
        addresses = info.parsed_addresses(IPVersion.V4Only)
        if not addresses or not info.port:
            return
        host, port = addresses[0], info.port
        props = {
            (k.decode(errors="replace") if isinstance(k, bytes) else str(k)).lower(): v
            for k, v in (info.properties or {}).items()
        }
        mac = props.get("mac")
        now = time.time()
        with self._lock:
            old = self._devices.get(service)
            if old is None and len(self._devices) >= self._max_devices:
                self.ignored_table_full += 1
                warn, self._table_full_warned = not self._table_full_warned, True
                if warn:
                    log.warning(
                        "discovery table full (%d): ignoring new devices", len(self._devices)
                    )
                return
        led_count = old.led_count if old is not None and old.host == host else None
        if led_count is None and self._fetch_led_count is not None:
            led_count = self._fetch_led_count(host, port)
        # Names come from whoever answers on the LAN: shown and logged, so made displayable
        # (the device is still listed; `service` keeps the raw key for lookups).
        device = DiscoveredDevice(
            name=displayable(service.removesuffix("." + WLED_TYPE)),
            service=service,
            host=host,
            hostname=displayable(info.server) if info.server else None,
            port=port,
            mac=displayable(mac.decode(errors="replace")) if isinstance(mac, bytes) else None,
            led_count=led_count,
            first_seen=old.first_seen if old is not None else now,
            last_seen=now,
        )
        with self._lock:
            is_new = service not in self._devices
            self._devices[service] = device
            self._snapshot = tuple(self._devices.values())
        if is_new:
            self._device_found(device)

    # ---- transitions: one call site each --------------------------------------------------

    def _device_found(self, device: DiscoveredDevice) -> None:
        log.info("discovered WLED %s at %s:%d", device.name, device.host, device.port)
        self._bus.publish("device_discovered", {"device": msgspec.to_builtins(device)})

    def _device_lost(self, device: DiscoveredDevice) -> None:
        log.info("WLED %s at %s:%d left the network", device.name, device.host, device.port)
        self._bus.publish("device_lost", {"device": msgspec.to_builtins(device)})

    # ---- advertising -----------------------------------------------------------------------

    def _advertise(self, ad: Advertisement) -> None:
        zc = self._zc
        assert zc is not None
        addresses = self._interfaces or _lan_ipv4_addresses()
        if not addresses:
            log.warning("not advertising LedGrab over mDNS: no IPv4 address on any interface")
            return
        hostname = socket.gethostname().split(".")[0] or "ledgrab"
        props: dict[str, Any] = {"version": ad.version, "api": ad.api_path, "path": "/"}
        web_type = HTTP_TYPE
        if ad.fingerprint:  # a client can pin the certificate before it sends a key
            props.update(scheme="https", sha256=ad.fingerprint)
            web_type = HTTPS_TYPE
        infos = [
            ServiceInfo(
                service_type,
                f"{ad.instance_name}.{service_type}",
                port=ad.port,
                properties=props,
                server=f"{hostname}.local.",
                parsed_addresses=addresses,
            )
            for service_type in (LEDGRAB_TYPE, web_type)
        ]

        async def register_all() -> list[Any]:
            # Both names probe at once (the probing takes ~1 s per name); the announcements
            # that follow run on zeroconf's loop without anyone waiting for them.
            return await asyncio.gather(
                *(zc.async_register_service(i, allow_name_change=True) for i in infos),
                return_exceptions=True,
            )

        try:
            results = asyncio.run_coroutine_threadsafe(register_all(), zc.loop).result(30)
        except Exception as exc:  # advertising is optional: a timeout or a closed socket
            results = [exc] * len(infos)
        for info, result in zip(infos, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("could not advertise %s over mDNS: %s", info.type, result)
            else:
                self._registered.append(info)
        if self._registered:
            log.info("advertising %r on port %d over mDNS", ad.instance_name, ad.port)
            renewed = self._fingerprint_now
            if renewed and ad.fingerprint and renewed != ad.fingerprint:
                self.readvertise_fingerprint_blocking(renewed)

    def readvertise_fingerprint_blocking(self, fingerprint: str) -> None:
        """A renewed TLS certificate: announce the TXT records again with its fingerprint (off
        the event loop; a failure leaves the old records and one warning)."""
        self._fingerprint_now = fingerprint
        zc = self._zc
        if zc is None or not self._registered:
            return
        updated: list[ServiceInfo] = []
        for info in self._registered:
            props = {k.decode(): v for k, v in (info.properties or {}).items()}
            props["sha256"] = fingerprint.encode()
            new = ServiceInfo(
                info.type,
                info.name,
                port=info.port,
                properties=props,
                server=info.server,
                parsed_addresses=info.parsed_addresses(),
            )
            try:
                asyncio.run_coroutine_threadsafe(zc.async_update_service(new), zc.loop).result(10)
            except Exception as exc:  # advertising is optional, as at start
                log.warning("could not announce the new fingerprint over mDNS: %s", exc)
                new = info
            updated.append(new)
        self._registered = updated

    def _fail(self, message: str) -> None:
        self.state, self.error = "failed", message
        log.warning("%s", message)
        zc, self._zc = self._zc, None
        if zc is not None:
            with contextlib.suppress(Exception):
                zc.close()


def _local_ipv4_addresses() -> list[str]:
    return [
        ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips if isinstance(ip.ip, str)
    ]


def _lan_ipv4_addresses() -> list[str]:
    return [ip for ip in _local_ipv4_addresses() if not ip.startswith("127.")]
