"""The one validation answer: 400, `{"status_code", "detail", "errors": [{"field", "message"}]}`.

Bodies are decoded strictly (no integer for a boolean, no string for a number), and msgspec's
messages are put into words a person reads next to a form field ("must be at least 1").
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import ValidationException
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_400_BAD_REQUEST

from ledgrab.models.devices import DEVICE_TYPES
from ledgrab.models.sources import SOURCE_TYPES

__all__ = [
    "VALIDATION_STATUS",
    "ErrorBody",
    "FieldError",
    "ValidationErrorBody",
    "decode_strict",
    "error_answers",
    "field_error",
    "invalid_fields",
    "json_body",
    "validation_error_handler",
]

VALIDATION_STATUS = HTTP_400_BAD_REQUEST
T = TypeVar("T")


class FieldError(msgspec.Struct):
    field: str  # dotted path in the body ("params.color"), or "" for the body as a whole
    message: str


class ErrorBody(msgspec.Struct):
    """Every other 4xx/5xx answer: the status again and a sentence saying what is wrong."""

    status_code: int
    detail: str
    extra: dict[str, str] | None = None


def error_answers(**described: str) -> dict[int, Any]:
    """`responses=` for a route: `error_answers(e409="…")` declares a 409 with ErrorBody."""
    return {
        int(key[1:]): ResponseSpec(data_container=ErrorBody, description=text)
        for key, text in described.items()
    }


class ValidationErrorBody(msgspec.Struct):
    """What every 400 carries; `errors` names each field that is wrong and why."""

    status_code: int
    detail: str
    errors: list[FieldError] = []
    extra: dict[str, str] | None = None  # e.g. {"reason": "not_sqlite"} for a refused backup


_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "number": "a number",
    "str": "text",
    "bool": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
_BOUND_WORDS = {">=": "at least", "<=": "at most", ">": "more than", "<": "less than"}
_AT = re.compile(r"^(?P<text>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def _path(raw: str) -> str:
    """`$.params.colors[2]` -> `params.colors.2`."""
    return re.sub(r"\[(\d+)\]", r".\1", raw).lstrip(".")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix and name else prefix or name


# The tags of the tagged unions, named in the message for an unknown one.
_TAGS = {"type": ("device type", DEVICE_TYPES), "kind": ("source kind", SOURCE_TYPES)}


def _words(text: str, path: str) -> FieldError:
    """One msgspec message as a field and a sentence."""
    if m := re.match(r"Object missing required field `([^`]*)`", text):
        return FieldError(_join(path, m[1]), "is required")
    if m := re.match(r"Object contains unknown field `([^`]*)`", text):
        return FieldError(_join(path, m[1]), "is not a field here")
    if m := re.match(r"Expected `\w+` (>=|<=|>|<) (\S+)", text):
        return FieldError(path, f"must be {_BOUND_WORDS[m[1]]} {m[2].removesuffix('.0')}")
    if m := re.match(r"Expected `str` of length (>=|<=) (\d+)", text):
        return FieldError(path, f"must have {_BOUND_WORDS[m[1]]} {m[2]} characters")
    if m := re.match(r"Expected `(?:array|object)` of length (>=|<=) (\d+)", text):
        return FieldError(path, f"must hold {_BOUND_WORDS[m[1]]} {m[2]} items")
    if m := re.match(r"Expected `\w+` that is a multiple of (\S+)", text):
        return FieldError(path, f"must be a multiple of {m[1]}")
    if re.match(r"Expected `str` matching regex '\^#\[0-9a-fA-F\]\{6\}", text):
        return FieldError(path, "must be a colour like #ff8800")
    if text.startswith("Expected `str` matching regex"):
        return FieldError(path, "does not have the expected form")
    if m := re.match(r"Expected `([\w |]+)`, got `(\w+)`", text):
        wanted = " or ".join(_TYPE_WORDS.get(t, t) for t in m[1].split(" | "))
        return FieldError(path, f"must be {wanted}, not {_TYPE_WORDS.get(m[2], m[2])}")
    if (m := re.match(r"Invalid value (.+)$", text)) and path in _TAGS:
        label, tags = _TAGS[path]
        return FieldError(path, f"{m[1]} is not a {label}; expected one of {', '.join(tags)}")
    if m := re.match(r"Invalid (?:enum )?value (.+)$", text):
        return FieldError(path, f"{m[1]} is not one of the allowed values")
    # A rule checked after decoding (__post_init__) starts its message with "field: ".
    if m := re.match(r"(\w+): (.*)$", text, re.S):
        inner = path if path.rsplit(".", 1)[-1] == m[1] else _join(path, m[1])
        return _words(m[2], inner)
    return FieldError(path, text)


def field_error(exc: Exception | str, prefix: str = "") -> FieldError:
    """The field and the words for a msgspec ValidationError (or a ValueError's message)."""
    m = _AT.match(str(exc))
    assert m is not None
    return _words(m["text"].strip(), _join(prefix, _path(m["path"] or "")))


def invalid_fields(
    what: str, errors: list[FieldError], detail: str | None = None
) -> ValidationException:
    """A 400 naming each wrong field; `detail` reads as one sentence (or is the one given)."""
    said = "; ".join(f"{e.field} {e.message}" if e.field else e.message for e in errors)
    return ValidationException(
        detail=detail or f"invalid {what}: {said}", extra=[msgspec.to_builtins(e) for e in errors]
    )


async def json_body(request: Request, what: str) -> Any:
    """The body as plain JSON values (3.0 read as 3), for a checker that converts it itself."""
    try:
        return _whole_numbers(msgspec.json.decode(await request.body()))
    except msgspec.DecodeError as exc:
        raise invalid_fields(what, [FieldError("", f"the body is not JSON: {exc}")]) from None


async def decode_strict(request: Request, body_type: type[T], what: str) -> T:
    """The request body as `body_type`, decoded strictly (Litestar's own pass is lenient)."""
    raw = await json_body(request, what)
    try:
        return msgspec.convert(raw, body_type, strict=True)
    except msgspec.ValidationError as exc:
        raise invalid_fields(what, [field_error(exc)]) from None


def _whole_numbers(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (JSON Schema says so too), so it is one
    here; booleans and strings are never numbers."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _errors_of(exc: ValidationException) -> list[FieldError]:
    extra: Any = exc.extra
    if not isinstance(extra, list):
        return [FieldError("", str(exc.detail))] if exc.detail else []
    errors = []
    for item in extra:
        if isinstance(item, dict) and "field" in item:
            errors.append(FieldError(str(item["field"]), str(item["message"])))
        elif isinstance(item, dict):  # Litestar's own: {"message", "key", "source"}
            key = str(item.get("key", ""))
            key = "" if key == "data" else key.removeprefix("data.")
            errors.append(field_error(str(item.get("message", "")), key))
    return errors


def validation_error_handler(request: Request, exc: ValidationException) -> Response:
    errors = _errors_of(exc)
    detail = str(exc.detail)
    if detail.startswith("Validation failed for") or not detail:
        said = "; ".join(f"{e.field} {e.message}".strip() for e in errors)
        detail = f"invalid request: {said}" if said else "invalid request"
    extra = exc.extra if isinstance(exc.extra, dict) else None
    body = ValidationErrorBody(VALIDATION_STATUS, detail, errors, extra)
    return Response(msgspec.to_builtins(body), status_code=VALIDATION_STATUS)
