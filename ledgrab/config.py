"""Settings: defaults < TOML file < LEDGRAB_* environment < CLI flags; bad values: ConfigError."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "ActivityConfig",
    "AuthSettings",
    "BackupSettings",
    "CaptureSettings",
    "ConfigError",
    "DiscoverySettings",
    "EngineSettings",
    "ForwardingConfig",
    "HealthSettings",
    "ServerSettings",
    "Settings",
    "load_settings",
    "parse_api_keys",
]

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Label = Annotated[str, msgspec.Meta(pattern=LABEL_PATTERN)]


class ConfigError(Exception):
    """A configuration value is wrong; the message names key, value and what was expected."""


class AuthSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    # label -> key; configured keys live only in memory (hashed at startup), never in the database.
    api_keys: dict[Label, Annotated[str, msgspec.Meta(min_length=16)]] = {}
    # Per address and minute, refused requests (a wrong or missing key) and requests to the
    # routes that need no key answered at once; later ones wait over_budget_delay_s for their
    # answer (0: never). docs/server-limits.md.
    free_refusals_per_minute: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 20
    free_public_requests_per_minute: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 300
    over_budget_delay_s: Annotated[float, msgspec.Meta(ge=0, le=30)] = 1.0


class DiscoverySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    advertise: bool = True
    # IPv4 addresses of the interfaces mDNS uses; empty means all of them. Tests pin 127.0.0.1.
    interfaces: list[str] = []
    # The port advertised for the web UI/API; None uses `port` (0, "pick one", is not advertised).
    advertise_port: Port | None = None
    instance_name: Annotated[str, msgspec.Meta(min_length=1, max_length=63)] | None = None
    scan_timeout_s: Annotated[float, msgspec.Meta(ge=0.2, le=30)] = 3.0
    max_devices: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 256
    # Ask each found WLED for its LED count over its JSON API (one short HTTP request).
    fetch_led_count: bool = True


class HealthSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Device reachability checks (core/processing/device_health.py)."""

    enabled: bool = True
    interval_s: Annotated[float, msgspec.Meta(ge=0.05, le=3600)] = 15.0
    max_interval_s: Annotated[float, msgspec.Meta(ge=0.05, le=86_400)] = 300.0
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=30)] = 2.0
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8


class CaptureSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Where capture sources listen for DDP/E1.31 and which interface joins E1.31 multicast groups.
    bind_host: Annotated[str, msgspec.Meta(min_length=1)] = "0.0.0.0"
    multicast: bool = True
    multicast_interface: Annotated[str, msgspec.Meta(min_length=1)] = "0.0.0.0"
    ddp_port: Port = 4048
    e131_port: Port = 5568
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 2.5


class BackupSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # A restore upload larger than this is refused with 413 before it fills the SD card.
    max_upload_bytes: Annotated[int, msgspec.Meta(ge=1 << 20, le=1 << 40)] = 256 << 20
    # Files set aside next to the database: by restores (an undo) and by corruption (evidence).
    keep_pre_restore: Annotated[int, msgspec.Meta(ge=0, le=20)] = 1
    keep_corrupt: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3


class ActivityConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Limits of the activity recorder that are not user settings (those live in the database)."""

    # Entries waiting for a commit, at most; past it new entries are dropped and counted.
    max_pending: Annotated[int, msgspec.Meta(ge=100, le=1_000_000)] = 10_000
    # Error/critical/auth entries commit at once, but at most once per this many seconds.
    immediate_gap_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    # After a failed write: first retry after retry_min_s, doubling up to retry_max_s.
    retry_min_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    retry_max_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    # Rows one commit may delete; how often an idle log is checked for entries past max_days.
    prune_batch: Annotated[int, msgspec.Meta(ge=10, le=100_000)] = 1000
    retention_check_s: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 3600.0
    # `auth.failed` entries per minute from all addresses together; the excess becomes one
    # summary entry, so that many source addresses cannot push real history out of the log.
    auth_failure_entries_per_minute: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 20
    # A flapping target's failures and recoveries become one entry per target per window.
    target_trouble_window_s: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 60.0


class ClockSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The board's clock (docs/clock.md): a Pi has none that survives a power cut."""

    # How often the sync flag is read (adjtimex: no file, no write); the step to a
    # synchronised clock is recorded within this time.
    check_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 5.0
    # Where a request to set the clock by hand is written for the privileged helper
    # (ledgrab-set-clock.path watches it; ledgrab.service sets LEDGRAB_CLOCK_REQUEST_DIR), and
    # how long its answer is waited for. None: no helper here, the clock is not set by hand.
    request_dir: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    set_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 5.0


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The HTTP/websocket server: its limits (docs/server-limits.md gives the reason for each) and
    HTTPS on `port` (docs/https.md): a certificate made here, the user's own, or none."""

    # Addresses or networks of reverse proxies whose X-Forwarded-For/-Proto are believed. Empty:
    # proxy headers are ignored and the recorded client is the TCP peer.
    trusted_proxies: list[str] = []
    # Open connections (HTTP and websocket together); past it HTTP requests get 503.
    max_connections: Annotated[int, msgspec.Meta(ge=8, le=4096)] = 256
    # Largest websocket message a client may send: the auth message is well under 1 KiB.
    ws_max_message_bytes: Annotated[int, msgspec.Meta(ge=1024, le=1 << 20)] = 4096
    # Websockets that have not authenticated yet: in all, and from one address.
    ws_max_unauthenticated: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 64
    ws_max_unauthenticated_per_address: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 8
    ws_auth_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 10.0
    # Request line and headers of one request, in bytes, and how many header lines.
    max_head_bytes: Annotated[int, msgspec.Meta(ge=4096, le=1 << 20)] = 16384
    max_headers: Annotated[int, msgspec.Meta(ge=16, le=1000)] = 100
    # A request head must arrive whole within this time of its first byte (or of the connect).
    head_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0
    keep_alive_s: Annotated[int, msgspec.Meta(ge=1, le=300)] = 5
    # Request bodies of the JSON API (the restore upload has its own, [backup] max_upload_bytes).
    max_body_bytes: Annotated[int, msgspec.Meta(ge=4096, le=1 << 30)] = 1 << 20

    # "self-signed": made and renewed here; "files": cert_file/key_file (PEM), reloaded on
    # SIGHUP; "off": plain HTTP on `port`, for a reverse proxy that terminates TLS.
    tls: Literal["self-signed", "files", "off"] = "self-signed"
    cert_file: str | None = None
    key_file: str | None = None
    # Plain HTTP here only redirects to HTTPS. 80 lets a browser open http://<name>.local/; the
    # service may bind it (CAP_NET_BIND_SERVICE), a user who may not gets a warning. -1: off;
    # 0: any free port (tests).
    http_redirect_port: Annotated[int, msgspec.Meta(ge=-1, le=65535)] = 80
    # A certificate made here is replaced this many days before it expires.
    renew_before_days: Annotated[int, msgspec.Meta(ge=1, le=300)] = 30
    # How often the host name and addresses are compared with the certificate's.
    check_interval_s: Annotated[float, msgspec.Meta(ge=1, le=86_400)] = 300.0


class ForwardingConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Timings of the activity-log forwarders (the forwarders themselves live in the database)."""

    poll_interval_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0  # a quiet log's check
    # TCP/TLS: a batch counts as delivered once the connection outlived it by this long.
    confirm_after_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    # After a failure: wait retry_min_s, doubling per failure up to retry_max_s.
    retry_min_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    retry_max_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 300.0
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 5.0  # connect, send, HTTP reply
    # A moved cursor rides on at most one commit per this long (a page each; see cursors.py).
    cursor_write_interval_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 60.0


class EngineSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The LED engine: device reconnect backoff, state-event cadence, where /dev/leds<n> live."""

    reconnect_initial_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 0.5
    reconnect_max_s: Annotated[float, msgspec.Meta(gt=0, le=600)] = 30.0
    state_interval_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    leds_dev_dir: Annotated[str, msgspec.Meta(min_length=1)] = "/dev"
    http_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=30)] = 2.0
    # Frame loops on a thread of their own (docs/engine.md); false runs them on the server's loop.
    frame_thread: bool = True
    # SCHED_FIFO priority the frame thread asks for (docs/engine.md); 0 keeps the normal policy.
    frame_priority: Annotated[int, msgspec.Meta(ge=0, le=99)] = 1
    # Network frames rendered this far ahead of their grid point and sent on time by the frame
    # pacer's process (docs/engine.md); 0 sends them from the frame thread. At most 8 ms: less
    # than one interval at the top rate of 120 fps, so a frame never waits behind the next.
    send_ahead_ms: Annotated[float, msgspec.Meta(ge=0, le=8)] = 6.0
    # "on-demand": grid frames go through the pacer only while the frame loop is being held up
    # (late ticks), so a quiet machine runs no second process; "always": every frame does.
    pacing: Literal["on-demand", "always"] = "on-demand"


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[str, msgspec.Meta(min_length=1)] = "0.0.0.0"
    port: Port = 8080
    data_dir: Annotated[str, msgspec.Meta(min_length=1)] = "data"
    log_level: Annotated[str, msgspec.Meta(pattern="^(debug|info|warning|error)$")] = "info"
    # Create a virtual strip and a demo target when the database is new, so a newcomer sees frames.
    demo_on_first_start: bool = True
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    discovery: DiscoverySettings = msgspec.field(default_factory=DiscoverySettings)
    capture: CaptureSettings = msgspec.field(default_factory=CaptureSettings)
    health: HealthSettings = msgspec.field(default_factory=HealthSettings)
    backup: BackupSettings = msgspec.field(default_factory=BackupSettings)
    activity: ActivityConfig = msgspec.field(default_factory=ActivityConfig)
    clock: ClockSettings = msgspec.field(default_factory=ClockSettings)
    engine: EngineSettings = msgspec.field(default_factory=EngineSettings)
    forwarding: ForwardingConfig = msgspec.field(default_factory=ForwardingConfig)
    # [[forwarders]] tables: fixed forwarders beside those set through the API (checked below
    # with the API's own rules; docs/forwarding.md).
    forwarders: list[dict[str, Any]] = msgspec.field(default_factory=list)


_BOOL_WORDS = {"yes": "true", "on": "true", "no": "false", "off": "false"}
_ENV_KEYS = {
    "LEDGRAB_HOST": ("host",),
    "LEDGRAB_PORT": ("port",),
    "LEDGRAB_DATA_DIR": ("data_dir",),
    "LEDGRAB_LOG_LEVEL": ("log_level",),
    "LEDGRAB_TLS": ("server", "tls"),
    "LEDGRAB_HTTP_REDIRECT_PORT": ("server", "http_redirect_port"),
    "LEDGRAB_AUTH_ENABLED": ("auth", "enabled"),
    "LEDGRAB_DISCOVERY_ENABLED": ("discovery", "enabled"),
    "LEDGRAB_CLOCK_REQUEST_DIR": ("clock", "request_dir"),
}


def parse_api_keys(text: str, source: str = "LEDGRAB_API_KEYS") -> dict[str, str]:
    """Parse "label:key[,label:key…]" into a dict; raises ConfigError naming the bad pair."""
    keys: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        label, sep, key = part.partition(":")
        if not sep or not label or not key:
            raise ConfigError(f"{source}: entry {label or part!r} is not of the form label:key")
        keys[label] = key
    return keys


def default_data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """/var/lib/ledgrab under systemd (StateDirectory= sets $STATE_DIRECTORY), ./data otherwise."""
    state = environ.get("STATE_DIRECTORY")
    return Path(state.split(":")[0]) if state else Path("data")


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from the layers in order; raise ConfigError before anything starts."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {"data_dir": str(default_data_dir(env))}
    origin: dict[tuple[str, ...], str] = {}

    path = config_file or env.get("LEDGRAB_CONFIG")
    if path:
        raw.update(_read_toml(Path(path)))
        origin.update({(k,): str(path) for k in raw})

    for var, key_path in _ENV_KEYS.items():
        if var in env:
            value = env[var]
            if key_path != ("server", "tls"):  # "off" is one of its words, not a boolean
                value = _BOOL_WORDS.get(value.strip().lower(), value)
            _set_path(raw, key_path, value)
            origin[key_path] = var
    if "LEDGRAB_DISCOVERY_INTERFACES" in env:  # "127.0.0.1[,192.168.1.5…]"; empty: all
        text = env["LEDGRAB_DISCOVERY_INTERFACES"]
        _set_path(
            raw, ("discovery", "interfaces"), [a.strip() for a in text.split(",") if a.strip()]
        )
        origin[("discovery", "interfaces")] = "LEDGRAB_DISCOVERY_INTERFACES"
    if "LEDGRAB_TRUSTED_PROXIES" in env:  # "192.168.1.2[,10.0.0.0/24…]"; empty: none
        text = env["LEDGRAB_TRUSTED_PROXIES"]
        _set_path(
            raw, ("server", "trusted_proxies"), [a.strip() for a in text.split(",") if a.strip()]
        )
        origin[("server", "trusted_proxies")] = "LEDGRAB_TRUSTED_PROXIES"
    if "LEDGRAB_API_KEYS" in env:
        _set_path(raw, ("auth", "api_keys"), parse_api_keys(env["LEDGRAB_API_KEYS"]))
        origin[("auth", "api_keys")] = "LEDGRAB_API_KEYS"

    for key, value in (overrides or {}).items():
        if value is not None:
            raw[key] = value
            origin[(key,)] = "command line"

    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_describe(exc, raw, origin)) from None
    _check_networks(settings.server.trusted_proxies, origin.get(("server", "trusted_proxies")))
    if settings.forwarders:
        from ledgrab.core.forwarding.config import validate_forwarders  # it needs the entry types

        try:
            validate_forwarders({"forwarders": settings.forwarders}, [])
        except ValueError as exc:
            where = origin.get(("forwarders",), "config")
            raise ConfigError(f"{where}: [[forwarders]]: {exc}") from None
    return settings


def _check_networks(values: list[str], source: str | None) -> None:
    """Each trusted proxy must be an IP address or network: a typo must not trust nobody quietly."""
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ConfigError(
                f"invalid configuration: server.trusted_proxies = {value!r} "
                f"(from {source or 'default'}): expected an IP address or network, "
                "e.g. 192.168.1.2 or 10.0.0.0/24"
            ) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _set_path(raw: dict[str, Any], key_path: tuple[str, ...], value: Any) -> None:
    node = raw
    for key in key_path[:-1]:
        node = node.setdefault(key, {})
    node[key_path[-1]] = value


def _describe(exc: msgspec.ValidationError, raw: dict[str, Any], origin: dict) -> str:
    text = str(exc)
    match = re.search(r" - at `\$\.([^`]+)`", text)
    if not match:
        return f"invalid configuration: {text}"
    dotted = re.sub(r"\[(\d+)\]", r".\1", match.group(1)).replace("[...]", "")
    parts = tuple(dotted.split("."))
    value: Any = raw
    for part in parts:
        value = value.get(part) if isinstance(value, dict) else None
    source = next((origin[p] for p in (parts, parts[:1]) if p in origin), "default")
    expected = text[: match.start()]
    if "api_keys" in parts:  # never echo a key back into a log
        value = "<hidden>"
    return f"invalid configuration: {dotted} = {value!r} (from {source}): {expected}"
