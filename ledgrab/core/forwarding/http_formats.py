"""Bodies for the HTTP forwarders: OTLP/HTTP JSON logs (`ExportLogsServiceRequest`) and the
webhook's JSON array with its HMAC-SHA256 signature."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

from ledgrab.core.forwarding.records import Gap, Outgoing
from ledgrab.storage.activity_log import to_us

__all__ = ["SIGNATURE_HEADER", "otlp_body", "sign", "webhook_body"]

SIGNATURE_HEADER = "X-LedGrab-Signature"
# OpenTelemetry's severity numbers: INFO 9, WARN 13, ERROR 17, FATAL 21.
_OTLP_SEVERITY = {
    "info": (9, "INFO"),
    "warning": (13, "WARN"),
    "error": (17, "ERROR"),
    "critical": (21, "FATAL"),
}


def _string(key: str, value: str) -> dict:
    return {"key": key, "value": {"stringValue": value}}


def _int(key: str, value: int) -> dict:
    # The OTLP JSON mapping carries 64-bit integers as decimal strings.
    return {"key": key, "value": {"intValue": str(value)}}


def _otlp_record(item: Outgoing, now_ns: str) -> dict:
    if isinstance(item, Gap):
        return {
            "timeUnixNano": now_ns,
            "observedTimeUnixNano": now_ns,
            "severityNumber": 13,
            "severityText": "WARN",
            "eventName": "forward.gap",
            "body": {
                "stringValue": f"entries {item.first}..{item.last} were removed before they "
                "could be forwarded"
            },
            "attributes": [
                _string("ledgrab.action", "forward.gap"),
                _int("ledgrab.gap.first", item.first),
                _int("ledgrab.gap.last", item.last),
                _int("ledgrab.gap.count", item.count),
            ],
        }
    number, text = _OTLP_SEVERITY[str(item.severity)]
    attributes = [
        _int("ledgrab.seq", item.seq),
        _string("ledgrab.chain", item.chain),
        _string("ledgrab.id", item.id),
        _string("ledgrab.category", str(item.category)),
        _string("ledgrab.action", item.action),
        _string("ledgrab.actor", item.actor),
    ]
    for name in ("entity_type", "entity_id", "entity_name"):
        value = getattr(item, name)
        if value is not None:
            attributes.append(_string(f"ledgrab.{name}", value))
    attributes.append(_string("ledgrab.metadata", msgspec.json.encode(item.metadata).decode()))
    return {
        "timeUnixNano": str(to_us(item.ts) * 1000),
        "observedTimeUnixNano": now_ns,
        "severityNumber": number,
        "severityText": text,
        "eventName": item.action,
        "body": {"stringValue": item.message},
        "attributes": attributes,
    }


def otlp_body(items: Sequence[Outgoing], host_name: str, device_id: str) -> bytes:
    """One resource (service.name=ledgrab, host.name, the device id), one scope, a record per
    entry or gap, oldest first."""
    now_ns = str(to_us(datetime.now(UTC)) * 1000)
    request = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [
                        _string("service.name", "ledgrab"),
                        _string("host.name", host_name),
                        _string("service.instance.id", device_id),
                        _string("ledgrab.device_id", device_id),
                    ]
                },
                "scopeLogs": [
                    {
                        "scope": {"name": "ledgrab.activity"},
                        "logRecords": [_otlp_record(item, now_ns) for item in items],
                    }
                ],
            }
        ]
    }
    return msgspec.json.encode(request)


def webhook_body(items: Sequence[Outgoing]) -> bytes:
    """A JSON array: each entry as exported (its 11 fields, seq and chain) or
    {"gap": {"first", "last", "count"}}."""
    return msgspec.json.encode(
        [
            {"gap": {"first": i.first, "last": i.last, "count": i.count}}
            if isinstance(i, Gap)
            else i
            for i in items
        ]
    )


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
