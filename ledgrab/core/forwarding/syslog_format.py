"""RFC 5424 messages for activity entries and gaps, fitted to a size limit, and RFC 6587 framing.

`<PRI>1 TIMESTAMP HOSTNAME ledgrab - MSGID [ledgrab@32473 ...] BOM MSG`: PRI = facility * 8 +
severity (info 6, warning 4, error 3, critical 2), MSGID the action, one SD-ELEMENT with every
field but the message, `seq`, `chain` and the device id. 32473 is the enterprise number RFC 5612
reserves for documentation examples: LedGrab has none of its own (docs/forwarding.md).
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from ledgrab.core.forwarding.config import FACILITIES
from ledgrab.core.forwarding.records import Gap, Outgoing
from ledgrab.storage.activity_log import ChainedEntry

__all__ = ["FACILITY_CODES", "SD_ID", "SEVERITY_CODES", "format_message", "octet_frame"]

SD_ID = "ledgrab@32473"
GAP_SD_ID = "ledgrabGap@32473"
BOM = b"\xef\xbb\xbf"
SEVERITY_CODES = {"info": 6, "warning": 4, "error": 3, "critical": 2}
FACILITY_CODES = {name: code for code, name in enumerate(FACILITIES)}
_SD_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"', "]": "\\]"})


def _param(name: str, value: object) -> str:
    return f'{name}="{str(value).translate(_SD_ESCAPE)}"'


def _printable_ascii(text: str, limit: int) -> str:
    """HOSTNAME and MSGID allow only printable US-ASCII (33..126) and have length limits."""
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in text)[:limit]
    return cleaned or "-"


def _timestamp(entry: ChainedEntry) -> str:
    return entry.ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_message(
    item: Outgoing, facility: str, hostname: str, limit: int, device: str = "-"
) -> bytes:
    """One RFC 5424 message of at most `limit` bytes: past it the metadata goes first (marked
    truncated="1"), then the end of the message text; seq and chain always stay."""
    if isinstance(item, Gap):
        return _gap_message(item, facility, hostname, device)
    pri = FACILITY_CODES[facility] * 8 + SEVERITY_CODES[str(item.severity)]
    head = (
        f"<{pri}>1 {_timestamp(item)} {_printable_ascii(hostname, 255)} ledgrab - "
        f"{_printable_ascii(item.action, 32)} "
    )
    params = [
        _param("seq", item.seq),
        _param("chain", item.chain),
        _param("device", device),
        _param("id", item.id),
        _param("category", item.category),
        _param("severity", item.severity),
        _param("actor", item.actor),
    ]
    for name in ("entity_type", "entity_id", "entity_name"):
        value = getattr(item, name)
        if value is not None:
            params.append(_param(name, value))
    metadata = _param("metadata", msgspec.json.encode(item.metadata).decode())
    text = item.message.encode()
    whole = _assemble(head, [*params, metadata], text)
    if len(whole) <= limit:
        return whole
    without = _assemble(head, [*params, _param("truncated", 1)], b"")
    room = limit - len(without)
    if room < 0:
        return without  # fields alone past the limit (limit is >= 480; fields are <= 200 chars)
    return without + _cut_utf8(text, room)


def _assemble(head: str, params: list[str], text: bytes) -> bytes:
    return f"{head}[{SD_ID} {' '.join(params)}] ".encode() + BOM + text


def _cut_utf8(data: bytes, size: int) -> bytes:
    """The first `size` bytes, not splitting a character."""
    return data[:size].decode("utf-8", "ignore").encode()


def _gap_message(gap: Gap, facility: str, hostname: str, device: str) -> bytes:
    pri = FACILITY_CODES[facility] * 8 + SEVERITY_CODES["warning"]
    sd = (
        f'[{GAP_SD_ID} first="{gap.first}" last="{gap.last}" count="{gap.count}" '
        f"{_param('device', device)}]"
    )
    text = f"entries {gap.first}..{gap.last} were removed before they could be forwarded"
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    head = f"<{pri}>1 {stamp} {_printable_ascii(hostname, 255)} ledgrab - forward.gap {sd} "
    return head.encode() + BOM + text.encode()


def octet_frame(message: bytes) -> bytes:
    """RFC 6587 octet counting: the length in decimal, a space, the message."""
    return b"%d %s" % (len(message), message)
