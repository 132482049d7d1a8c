"""GET /api/docs: a readable API reference rendered on the server from the OpenAPI document.

Plain HTML and one inline stylesheet, nothing fetched from anywhere (the board may have no
internet): every operation with its parameters, body, answers and security, then every schema
with its fields, types, bounds, defaults and allowed values.
"""

from __future__ import annotations

import html
import json
from typing import Any

from litestar import MediaType, Request, Response, get

from ledgrab.api.openapi_doc import finish_document

__all__ = ["api_reference"]

_METHODS = ("get", "post", "put", "patch", "delete")
_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ccd}h3{font-size:1.05rem}
code,.m{font-family:ui-monospace,monospace}.op{border:1px solid #dde;border-radius:6px;
padding:.4rem .8rem;margin:.8rem 0}.m{display:inline-block;min-width:4.5rem;font-weight:700}
.get{color:#0a6}.post{color:#06c}.put,.patch{color:#a60}.delete{color:#c22}
table{border-collapse:collapse;width:100%;margin:.4rem 0}td,th{border:1px solid #dde;
padding:.2rem .4rem;text-align:left;vertical-align:top}th{background:#f4f5f8}
.muted{color:#667}nav a{margin-right:.6rem}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict[str, Any]) -> str:
    """A schema in a few words: a link for a reference, alternatives joined with 'or'."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f'<a href="#schema-{_e(name)}">{_e(name)}</a>'
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(_type(s) for s in schema[key])
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{_e(json.dumps(v))}</code>" for v in schema["enum"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array" and "items" in schema:
        return f"list of {_type(schema['items'])}"
    if schema.get("format"):
        kind = f"{kind} ({schema['format']})"
    return _e(kind)


def _rules(schema: dict[str, Any]) -> str:
    words = []
    for key, text in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
        ("multipleOf", "multiple of"),
    ):
        if key in schema:
            words.append(f"{text} {_e(schema[key])}")
    if "pattern" in schema:
        words.append(f"pattern <code>{_e(schema['pattern'])}</code>")
    if "default" in schema:
        words.append(f"default <code>{_e(json.dumps(schema['default']))}</code>")
    if schema.get("description"):
        words.append(_e(schema["description"]))
    return "; ".join(words)


def _fields(schema: dict[str, Any]) -> str:
    props = schema.get("properties", {})
    if not props:
        return f"<p>{_type(schema)} {_rules(schema)}</p>"
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{_e(name)}</code>{' (required)' if name in required else ''}</td>"
        f"<td>{_type(prop)}</td><td>{_rules(prop)}</td></tr>"
        for name, prop in props.items()
    )
    closed = " Other fields are refused." if schema.get("additionalProperties") is False else ""
    return (
        f"<table><tr><th>field</th><th>type</th><th>rules</th></tr>{rows}</table>"
        f'<p class="muted">{_e(schema.get("description", ""))}{closed}</p>'
    )


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    parts = [
        f'<div class="op" id="{_e(op.get("operationId", method + path))}">',
        f'<h3><span class="m {method}">{method.upper()}</span> <code>{_e(path)}</code></h3>',
        f"<p>{_e(op.get('summary', ''))}</p>",
    ]
    if op.get("description"):
        parts.append(f'<p class="muted">{_e(op["description"])}</p>')
    if op.get("security"):
        schemes = " or ".join(_e(next(iter(s))) for s in op["security"])
        parts.append(f"<p>Authentication: {schemes}</p>")
    if params := op.get("parameters"):
        rows = "".join(
            f"<tr><td><code>{_e(p['name'])}</code>{' (required)' if p.get('required') else ''}"
            f"</td><td>{_e(p.get('in'))}</td><td>{_type(p.get('schema', {}))}</td>"
            f"<td>{_rules(p.get('schema', {}))} {_e(p.get('description', ''))}</td></tr>"
            for p in params
        )
        parts.append(
            "<table><tr><th>parameter</th><th>in</th><th>type</th><th>rules</th></tr>"
            f"{rows}</table>"
        )
    if body := op.get("requestBody"):
        for media, content in body.get("content", {}).items():
            parts.append(
                f"<p>Body (<code>{_e(media)}</code>): {_type(content.get('schema', {}))}</p>"
            )
    rows = "".join(
        f"<tr><td>{_e(status)}</td><td>{_e(answer.get('description', ''))}</td><td>"
        + ", ".join(
            f"<code>{_e(media)}</code> {_type(c.get('schema', {}))}"
            for media, c in answer.get("content", {}).items()
        )
        + "</td></tr>"
        for status, answer in sorted(op.get("responses", {}).items())
    )
    parts.append(f"<table><tr><th>status</th><th>meaning</th><th>body</th></tr>{rows}</table>")
    parts.append("</div>")
    return "".join(parts)


def render_reference(doc: dict[str, Any]) -> str:
    """The whole reference page for an OpenAPI document."""
    info = doc.get("info", {})
    groups: dict[str, list[str]] = {}
    for path, item in doc.get("paths", {}).items():
        for method in _METHODS:
            if op := item.get(method):
                tag = (op.get("tags") or ["other"])[0]
                groups.setdefault(tag, []).append(_operation(path, method, op))
    schemas = doc.get("components", {}).get("schemas", {})
    nav = "".join(f'<a href="#tag-{_e(t)}">{_e(t)}</a>' for t in groups)
    body = [
        f"<h1>{_e(info.get('title', 'API'))} {_e(info.get('version', ''))} API reference</h1>",
        "<p>Send a key as <code>Authorization: Bearer &lt;key&gt;</code> or "
        "<code>X-API-Key: &lt;key&gt;</code>. The machine-readable document is "
        '<a href="/schema/openapi.json">/schema/openapi.json</a>.</p>',
        f'<nav>{nav}<a href="#schemas">schemas</a></nav>',
    ]
    for tag, ops in groups.items():
        body.append(f'<h2 id="tag-{_e(tag)}">{_e(tag)}</h2>{"".join(ops)}')
    body.append('<h2 id="schemas">Schemas</h2>')
    for name, schema in sorted(schemas.items()):
        body.append(f'<h3 id="schema-{_e(name)}">{_e(name)}</h3>{_fields(schema)}')
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(info.get('title', 'API'))} API reference</title><style>{_STYLE}</style>"
        f"</head><body>{''.join(body)}</body></html>"
    )


@get("/api/docs", include_in_schema=False, sync_to_thread=False)
def api_reference(request: Request) -> Response[str]:
    """Public like the OpenAPI document it is rendered from; built once per process."""
    state = request.app.state
    page = state.get("api_reference_html")
    if page is None:
        doc = request.app.openapi_schema.to_schema()
        page = state.api_reference_html = render_reference(finish_document(doc))
    return Response(
        page,
        media_type=MediaType.HTML,
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )
