"""A channel turns outgoing items into one forwarder kind's wire format and sends them."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Protocol

from ledgrab.core.forwarding.config import ForwarderConfig, OtlpTarget, SyslogTarget
from ledgrab.core.forwarding.http_formats import SIGNATURE_HEADER, otlp_body, sign, webhook_body
from ledgrab.core.forwarding.records import Outgoing
from ledgrab.core.forwarding.syslog_format import format_message
from ledgrab.core.forwarding.transports import (
    HttpPoster,
    SyslogDatagrams,
    SyslogStream,
    tls_context,
)

__all__ = ["Channel", "open_channel"]


class Channel(Protocol):
    confirms: bool  # True: send() returning means the collector has the items

    def send(self, items: Sequence[Outgoing]) -> None: ...

    def check(self) -> str:
        """ "ok", "pending" (written, not yet acknowledged) or "closed" (written may be lost)."""

    def close(self) -> None: ...


class _Syslog:
    def __init__(self, target: SyslogTarget, timeout_s: float, host: str, device: str) -> None:
        self._target, self._host, self._device = target, host, device
        if target.transport == "udp":
            self._transport: SyslogDatagrams | SyslogStream = SyslogDatagrams(target, timeout_s)
        else:
            context = None
            if target.transport == "tls":
                context = tls_context(target.ca_pem, target.client_cert_pem, target.client_key_pem)
            self._transport = SyslogStream(target, timeout_s, context)
        self.confirms = self._transport.confirms

    def send(self, items: Sequence[Outgoing]) -> None:
        limit = self._target.message_limit()
        facility = self._target.facility
        self._transport.send(
            [format_message(i, facility, self._host, limit, self._device) for i in items]
        )

    def check(self) -> str:
        return self._transport.check()

    @property
    def closed_because(self) -> str:
        return getattr(self._transport, "closed_because", "the connection closed")

    def close(self) -> None:
        self._transport.close()


class _Http:
    confirms = True

    def __init__(self, config: ForwarderConfig, timeout_s: float, host: str, device: str):
        target = config.target
        headers = (target.headers or {}) if isinstance(target, OtlpTarget) else {}
        self._poster = HttpPoster(target.url, timeout_s, headers, target.ca_pem)
        self._otlp = isinstance(target, OtlpTarget)
        self._secret = getattr(target, "secret", None)
        self._host, self._device = host, device

    def send(self, items: Sequence[Outgoing]) -> None:
        if self._otlp:
            self._poster.post(otlp_body(items, self._host, self._device), {})
            return
        body = webhook_body(items)
        extra = {SIGNATURE_HEADER: sign(self._secret, body)} if self._secret else {}
        self._poster.post(body, extra)

    def check(self) -> str:
        return "ok"

    closed_because = "the connection closed"

    def close(self) -> None:
        self._poster.close()


def open_channel(config: ForwarderConfig, timeout_s: float, device_id: str) -> Channel:
    """The channel for a forwarder's target (nothing connects until the first send)."""
    host = socket.gethostname()
    if isinstance(config.target, SyslogTarget):
        return _Syslog(config.target, timeout_s, host, device_id)
    return _Http(config, timeout_s, host, device_id)
