"""Check JSON values against the server's own OpenAPI document (as a client would read it)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

__all__ = ["answer_schema", "component_validator", "document", "validator"]


def document(client) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()


def validator(doc: dict[str, Any], schema: dict[str, Any]):
    """A JSON Schema validator for `schema`, its `#/components/...` refs read from `doc`."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": doc["components"]})


def component_validator(doc: dict[str, Any], name: str):
    return validator(doc, {"$ref": f"#/components/schemas/{name}"})


def answer_schema(doc: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    """The application/json schema the document gives for this answer."""
    answer = doc["paths"][path][method]["responses"][status]
    return answer["content"]["application/json"]["schema"]
