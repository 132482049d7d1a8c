"""The OpenAPI document as published: Litestar's, finished with what it cannot infer.

Adds the two ways to present a key (`securitySchemes`, applied to every /api/v1 operation) and
declares, with their bodies, the answers any /api/v1 route can give besides its own: 400 (the
one validation shape), 401, 413 for a body over the limit, 503/507 for a failing card.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

from ledgrab.api.validation import ValidationErrorBody

__all__ = ["FinishedJsonRenderPlugin", "finish_document"]

API_PREFIX = "/api/v1/"
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
_METHODS = {"get", "put", "post", "patch", "delete"}


class ErrorBody(msgspec.Struct):
    """Every other 4xx/5xx answer: the status again and a sentence saying what is wrong."""

    status_code: int
    detail: str
    extra: dict[str, str] | None = None


def _schemas() -> dict[str, Any]:
    _, defs = msgspec.json.schema_components(
        [ValidationErrorBody, ErrorBody], ref_template="#/components/schemas/{name}"
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
    components.setdefault("schemas", {}).update(_schemas())
    components["securitySchemes"] = SECURITY_SCHEMES
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
            for status, answer in responses.items():
                if status[0] in "45" and status not in extra and "content" in answer:
                    answer["content"] = _answer("", "ErrorBody")["content"]
    return doc


class FinishedJsonRenderPlugin(JsonRenderPlugin):
    """Serves the finished document at /schema/openapi.json (computed once)."""

    _finished: dict[str, Any] | None = None

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        if self._finished is None:
            self._finished = finish_document(openapi_schema)
        return super().render(request, self._finished)
