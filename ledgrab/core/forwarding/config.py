"""Forwarder settings: typed, strictly validated, stored in the `settings` table; secrets are
write-only (kept from the stored copy when a change leaves them out, never shown)."""

from __future__ import annotations

from typing import Annotated, Literal, Union, get_args
from urllib.parse import urlsplit

import msgspec

from ledgrab.storage.activity_log import ActivityLogFilters, Severity

__all__ = [
    "FACILITIES",
    "FORWARDERS_KEY",
    "SECRET_FIELDS",
    "DuplicateName",
    "ForwardFilters",
    "ForwarderConfig",
    "ForwarderConfigShown",
    "ForwarderList",
    "ForwarderView",
    "OtlpTarget",
    "SyslogTarget",
    "Target",
    "WebhookTarget",
    "forwarders_from_stored",
    "validate_forwarders",
    "view_of",
]

FORWARDERS_KEY = "activity_forwarders"
MAX_FORWARDERS = 8
# RFC 5424's facility codes 0..23, in order.
FACILITIES = (
    *("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron"),
    *("authpriv", "ftp", "ntp", "audit", "alert", "clock"),
    *("local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"),
)
Facility = Literal[tuple(FACILITIES)]  # type: ignore[valid-type]
Name = Annotated[str, msgspec.Meta(pattern="^[a-z0-9][a-z0-9_-]{0,31}$")]
Host = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9.:\[\]_-]{1,253}$")]
# The pattern is for clients (the OpenAPI document): _check_url says in words what is wrong.
_URL_PATTERN = r"^https?://[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?(:[0-9]{1,5})?(\/[!-~]*)?$"
Url = Annotated[
    str, msgspec.Meta(min_length=8, max_length=2000, extra_json_schema={"pattern": _URL_PATTERN})
]
Pem = Annotated[str, msgspec.Meta(max_length=64_000)]
_Strict = {"forbid_unknown_fields": True, "kw_only": True}


class DuplicateName(ValueError):
    """Two forwarders of one list share a name (the API answers 409: each is valid alone)."""


class ForwardFilters(ActivityLogFilters, frozen=True, forbid_unknown_fields=True):
    """The list route's 8 filters; an unknown key is an error here, not silently ignored."""


class SyslogTarget(msgspec.Struct, tag="syslog", tag_field="kind", **_Strict):
    host: Host
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 514
    transport: Literal["udp", "tcp", "tls"] = "udp"
    facility: Facility = "local0"
    # A message longer than this loses its metadata, then the end of its text (docs/forwarding.md).
    # Unset: 2048 over UDP (RFC 5426's SHOULD), 8192 over TCP/TLS (rsyslog's default limit).
    max_message_bytes: Annotated[int, msgspec.Meta(ge=480, le=65_000)] | None = None
    ca_pem: Pem | None = None  # TLS: the CA that signed the collector's certificate
    server_name: Host | None = None  # TLS: the name the certificate must carry (default: host)
    client_cert_pem: Pem | None = None
    client_key_pem: Pem | None = None  # secret

    def message_limit(self) -> int:
        if self.max_message_bytes is not None:
            return self.max_message_bytes
        return 2048 if self.transport == "udp" else 8192


class OtlpTarget(msgspec.Struct, tag="otlp", tag_field="kind", **_Strict):
    url: Url  # the collector's logs endpoint, e.g. http://collector:4318/v1/logs
    headers: dict[Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9-]{1,64}$")], str] | None = (
        None  # secret values (an API token)
    )
    ca_pem: Pem | None = None


class WebhookTarget(msgspec.Struct, tag="webhook", tag_field="kind", **_Strict):
    url: Url
    # Secret: 16..256 characters; "" clears it.
    secret: Annotated[str, msgspec.Meta(pattern=r"^(?:|[\s\S]{16,256})$")] | None = None
    ca_pem: Pem | None = None


Target = SyslogTarget | OtlpTarget | WebhookTarget
SECRET_FIELDS = {"syslog": ("client_key_pem",), "otlp": ("headers",), "webhook": ("secret",)}


class ForwarderConfig(msgspec.Struct, **_Strict):
    name: Name
    target: Target
    enabled: bool = True
    filters: ForwardFilters = ForwardFilters()
    min_severity: Severity = Severity.INFO
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    # Where a new forwarder starts: the next entry recorded, or the oldest entry still held.
    start: Literal["now", "oldest"] = "now"


class ForwarderList(msgspec.Struct, **_Strict):
    forwarders: list[ForwarderConfig]


# Never shown: a secret field of an answer is always null (`secrets_set` says which are set).
Hidden = Annotated[None, msgspec.Meta(description="write-only; listed in secrets_set when set")]


def _shown(target: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """`target` as answers describe it: the same fields, its secrets always null (so the rules
    that pair a secret with another field bind requests only)."""
    tag = target.__struct_config__.tag
    return msgspec.defstruct(
        target.__name__ + "Shown",
        [(name, Hidden, None) for name in SECRET_FIELDS[tag]],  # type: ignore[index]
        bases=(target,),
        tag=tag,
        kw_only=True,
        module=__name__,
    )


ShownTarget = Union[tuple(_shown(t) for t in get_args(Target))]  # type: ignore[valid-type]  # noqa: UP007
ForwarderConfigShown = msgspec.defstruct(
    "ForwarderConfigShown", [("target", ShownTarget)], bases=(ForwarderConfig,), kw_only=True,
    module=__name__,
)  # fmt: skip


class ForwarderView(msgspec.Struct, kw_only=True):
    """A forwarder as the API shows it: secrets replaced by the names of those that are set."""

    config: ForwarderConfigShown  # type: ignore[valid-type]
    secrets_set: list[str]


def validate_forwarders(raw: object, stored: list[ForwarderConfig]) -> list[ForwarderConfig]:
    """JSON-like -> configs, secrets left out taken from `stored`; ValueError naming the field
    and what is wrong."""
    try:
        configs = msgspec.convert(raw, ForwarderList, strict=True).forwarders
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None
    if len(configs) > MAX_FORWARDERS:
        raise ValueError(f"at most {MAX_FORWARDERS} forwarders - at `$.forwarders`")
    configs = _keep_secrets(configs, stored)
    names = [c.name for c in configs]
    for index, config in enumerate(configs):
        where = f"$.forwarders[{index}].target"
        if config.name in names[:index]:
            raise DuplicateName(
                f"name {config.name!r} is used twice - at `$.forwarders[{index}].name`"
            )
        target = config.target
        if isinstance(target, SyslogTarget):
            if target.transport == "tls" and not target.ca_pem:
                raise ValueError(f"TLS needs the collector's CA certificate - at `{where}.ca_pem`")
            if bool(target.client_cert_pem) != bool(target.client_key_pem):
                raise ValueError(
                    f"a client certificate needs its key and the key its certificate - at "
                    f"`{where}.client_cert_pem`"
                )
        else:
            _check_url(target.url, f"{where}.url")
    return configs


def _check_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL - at `{where}`")
    if parts.username or parts.password:
        # Credentials in a URL would show in every view of it; a header keeps them write-only.
        raise ValueError(f"no user:password in the URL (use headers or the secret) - at `{where}`")


def _keep_secrets(new: list[ForwarderConfig], old: list[ForwarderConfig]) -> list[ForwarderConfig]:
    """A secret left out (null) of a change keeps its stored value when the forwarder of that
    name stays the same kind; "" (or {} for headers) clears it."""
    stored = {c.name: c for c in old}
    out = []
    for config in new:
        before = stored.get(config.name)
        target = config.target
        if before is not None and type(before.target) is type(target):
            kept = {
                field: getattr(before.target, field)
                for field in SECRET_FIELDS[_kind(target)]
                if getattr(target, field) is None
            }
            target = msgspec.structs.replace(target, **kept)
        cleared = {f: None for f in SECRET_FIELDS[_kind(target)] if getattr(target, f) in ("", {})}
        target = msgspec.structs.replace(target, **cleared)
        out.append(msgspec.structs.replace(config, target=target))
    return out


def _kind(target: Target) -> str:
    return target.__struct_config__.tag


def view_of(config: ForwarderConfig) -> ForwarderView:
    fields = SECRET_FIELDS[_kind(config.target)]
    set_ = [f for f in fields if getattr(config.target, f)]
    hidden = msgspec.structs.replace(config.target, **{f: None for f in fields})
    shown = msgspec.convert(
        msgspec.to_builtins(msgspec.structs.replace(config, target=hidden)), ForwarderConfigShown
    )
    return ForwarderView(config=shown, secrets_set=set_)


def forwarders_from_stored(value: object) -> list[ForwarderConfig]:
    """What the database holds; a stored list that no longer validates is skipped forwarder by
    forwarder (logged by the caller) rather than stopping the server."""
    if not isinstance(value, list):
        return []
    good = []
    for item in value:
        try:
            good.append(msgspec.convert(item, ForwarderConfig))
        except msgspec.ValidationError:
            continue
    return good
