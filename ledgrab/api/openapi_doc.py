"""The OpenAPI document as published: Litestar's, finished with what it cannot infer.

Adds the two ways to present a key (`securitySchemes`, applied to every /api/v1 operation) and
declares, with their bodies, the answers any /api/v1 route can give besides its own: 400 (the
one validation shape), 401, 413 for a body over the limit, 503/507 for a failing card.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

from ledgrab.api.system import ApiKeyCreate
from ledgrab.api.validation import ErrorBody, ValidationErrorBody
from ledgrab.core.activity_log.export import ExportedEntry
from ledgrab.core.activity_log.settings import ActivityLogSettings, ActivityLogSettingsPatch
from ledgrab.core.backup.auto_backup import AutoBackupConfig
from ledgrab.core.forwarding.config import MAX_FORWARDERS, ForwarderList
from ledgrab.models.bodies import BODY_TYPES
from ledgrab.models.devices import (
    E131_UNIVERSE_RULES,
    WS281X_CHANNEL_RULE,
)

__all__ = [
    "FinishedJsonRenderPlugin",
    "binary_body_operation",
    "finish_document",
    "json_body_operation",
    "streamed_answer_operation",
]

API_PREFIX = "/api/v1/"
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
_METHODS = {"get", "put", "post", "patch", "delete"}


_SERVICE_BODIES = [
    ActivityLogSettings,
    ActivityLogSettingsPatch,
    AutoBackupConfig,
    ApiKeyCreate,
    ForwarderList,
]
_PEM = {"type": "string", "minLength": 1}


def _needs(field: str, other: str) -> dict[str, Any]:
    return {
        "if": {"properties": {field: _PEM}, "required": [field]},
        "then": {"required": [other], "properties": {other: _PEM}},
    }


# validate_forwarders' syslog rules for clients: TLS needs the collector's CA certificate; a
# client certificate and its key come together.
_SYSLOG_RULES = [
    {
        "if": {"properties": {"transport": {"const": "tls"}}, "required": ["transport"]},
        "then": {"required": ["ca_pem"], "properties": {"ca_pem": _PEM}},
    },
    _needs("client_cert_pem", "client_key_pem"),
    _needs("client_key_pem", "client_cert_pem"),
]


# A date-time as a pattern too: JSON Schema treats `format` as a note, so a client (and a fuzzer)
# would take "" for a time. Days stop at 28 so that every string it allows is a real date (the
# server takes every real date; the document only promises these).
DATE_TIME_PATTERN = (
    r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])$"
)


def _with_time_patterns(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("format") == "date-time" and node.get("type") == "string":
            node.setdefault("pattern", DATE_TIME_PATTERN)
        for value in node.values():
            _with_time_patterns(value)
    elif isinstance(node, list):
        for value in node:
            _with_time_patterns(value)


def _schemas() -> dict[str, Any]:
    """msgspec's own schemas of the body types: they keep what Litestar's generator drops
    (a bound of 0, the pattern of a list's items, the patterns meant for clients)."""
    # Answers of routes that use this module (imported here, not at the top, for that reason).
    from ledgrab.api.capture import CaptureState
    from ledgrab.api.forwarding import ForwardersResponse
    from ledgrab.api.sources import SourceKindInfo

    answers = [ForwardersResponse, SourceKindInfo, CaptureState, ExportedEntry]
    _, defs = msgspec.json.schema_components(
        [ValidationErrorBody, ErrorBody, *BODY_TYPES, *_SERVICE_BODIES, *answers],
        ref_template="#/components/schemas/{name}",
    )
    return defs


def _answer(description: str, schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


_COMMON = {
    "400": _answer(
        "Invalid request: `errors` names each wrong field and why", "ValidationErrorBody"
    ),
    "401": _answer("Missing or invalid API key", "ErrorBody"),
    "503": _answer(
        "The storage failed (an I/O error, a read-only card); nothing changed", "ErrorBody"
    ),
}
_WITH_BODY = {"413": _answer("The body is larger than the server accepts", "ErrorBody")}
_WRITES = {"507": _answer("The card is full; nothing was changed", "ErrorBody")}


def finish_document(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of `doc` with security and the common answers declared."""
    doc = copy.deepcopy(doc)
    components = doc.setdefault("components", {})
    ours = _schemas()
    components.setdefault("schemas", {}).update(ours)
    components["securitySchemes"] = SECURITY_SCHEMES
    # The one request body with times in it (answers keep plain date-times: any day is fine).
    # msgspec describes these two as plain strings; they are times.
    filters = components["schemas"].get("ForwardFilters", {}).get("properties", {})
    for name in ("since", "until"):
        for option in filters.get(name, {}).get("anyOf", []):
            if option.get("type") == "string":
                option["format"] = "date-time"
    _with_time_patterns(components["schemas"].get("ForwardFilters"))
    if "ForwarderList" in components["schemas"]:
        listed = components["schemas"]["ForwarderList"]["properties"]["forwarders"]
        listed["maxItems"] = MAX_FORWARDERS
    if "SyslogTarget" in components["schemas"]:
        components["schemas"]["SyslogTarget"]["allOf"] = _SYSLOG_RULES
    # The devices' cross-field rules, so that data valid by the document is valid to the server.
    for name in ("Ws281xDevice", "Ws281xDeviceOut"):
        components["schemas"][name]["allOf"] = [WS281X_CHANNEL_RULE]
    for name in ("E131Device", "E131DeviceOut"):
        components["schemas"][name]["allOf"] = E131_UNIVERSE_RULES
    for name in ours:
        # These bodies forbid unknown fields (their Structs say so); the document says it too.
        if "properties" in components["schemas"][name]:
            components["schemas"][name].setdefault("additionalProperties", False)
    for path, item in doc.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            operation["security"] = [{"bearer": []}, {"apiKey": []}]
            responses = operation.setdefault("responses", {})
            extra = dict(_COMMON)
            if "requestBody" in operation:
                extra |= _WITH_BODY
            if method != "get":
                extra |= _WRITES
            for status, answer in extra.items():
                responses[status] = answer if status == "400" else responses.get(status, answer)
            for answer in responses.values():
                # An HTTP-date ("Thu, 03 Dec 2026 17:07:12 GMT"), not an ISO date-time.
                for name, header in answer.get("headers", {}).items():
                    if name.lower() == "last-modified":
                        header["schema"] = {"type": "string"}
                        header["description"] = "HTTP-date of the snapshot"
            for status, answer in responses.items():
                if status[0] in "45" and status not in extra and "content" in answer:
                    answer["content"] = _answer("", "ErrorBody")["content"]
    return doc


def _binary_content(media_types: tuple[str, ...]) -> dict[str, OpenAPIMediaType]:
    binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
    return {media: OpenAPIMediaType(schema=binary) for media in media_types}


def binary_body_operation(media_types: tuple[str, ...], description: str) -> type[Operation]:
    """`operation_class=` for a route whose request body is raw bytes of these media types."""

    @dataclass
    class BinaryBodyOperation(Operation):
        def __post_init__(self) -> None:
            content = _binary_content(media_types)
            self.request_body = RequestBody(content=content, required=True, description=description)

    return BinaryBodyOperation


def json_body_operation(component: str, description: str) -> type[Operation]:
    """`operation_class=` for a route that reads its JSON body itself (its checker converts
    it), documented as the component schema `component`."""

    @dataclass
    class JsonBodyOperation(Operation):
        def __post_init__(self) -> None:
            schema = Reference(f"#/components/schemas/{component}")
            content = {"application/json": OpenAPIMediaType(schema=schema)}
            self.request_body = RequestBody(content=content, required=True, description=description)

    return JsonBodyOperation


def streamed_answer_operation(
    media_types: tuple[str, ...], description: str, json_items: str | None = None
) -> type[Operation]:
    """`operation_class=` for a route whose 200 is a stream in one of these media types;
    `json_items` names the component schema of the items of its application/json array."""

    @dataclass
    class StreamedAnswerOperation(Operation):
        def __post_init__(self) -> None:
            if self.responses is not None:
                content = _binary_content(media_types)
                if json_items and "application/json" in content:
                    items = Reference(f"#/components/schemas/{json_items}")
                    array = Schema(type=OpenAPIType.ARRAY, items=items)
                    content["application/json"] = OpenAPIMediaType(schema=array)
                self.responses["200"] = OpenAPIResponse(description=description, content=content)

    return StreamedAnswerOperation


class FinishedJsonRenderPlugin(JsonRenderPlugin):
    """Serves the finished document at /schema/openapi.json (computed once)."""

    _finished: dict[str, Any] | None = None

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        if self._finished is None:
            self._finished = finish_document(openapi_schema)
        return super().render(request, self._finished)
