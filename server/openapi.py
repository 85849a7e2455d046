"""The OpenAPI document, built from the API route table and the msgspec request types."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.web import MESSAGES, json_response

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}


def build_openapi() -> dict[str, Any]:
    from server.api import API_ROUTES

    bodies = sorted({r.body for r in API_ROUTES if r.body is not None}, key=lambda t: t.__name__)
    _, components = msgspec.json.schema_components(
        bodies, ref_template="#/components/schemas/{name}")
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for route in API_ROUTES:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.endpoint.__name__,
            "responses": _responses(route.statuses, route.public, route.method != "GET"),
        }
        params = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                  ] if "{id}" in route.path else []
        params += [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
                   for q in route.query]
        if route.method != "GET":
            params.append({"name": "X-HWC", "in": "header", "required": True,
                           "schema": {"type": "string", "enum": ["1"]}})
        if params:
            operation["parameters"] = params
        if route.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}}}}
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Handle with Care signal relay", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "device": {"type": "apiKey", "in": "cookie", "name": "__Host-hwc"},
                "apiKey": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"device": []}, {"apiKey": []}],
    }


def _responses(statuses: tuple[int, ...], public: bool, has_body: bool) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    extra = set(statuses) | {500}
    if not public:
        extra |= {401, 403}
    if has_body:
        extra |= {400, 403, 413, 415, 422}
    result: dict[str, Any] = {}
    for status in sorted(extra):
        if status < 300:
            result[str(status)] = {"description": "OK",
                                   "content": {"application/json": {"schema": {}}}}
        else:
            result[str(status)] = {"description": MESSAGES.get(status, ("", ""))[1], **error}
    return result


_DOCUMENT: bytes | None = None


async def openapi(request: Request) -> Response:
    global _DOCUMENT
    if _DOCUMENT is None:
        _DOCUMENT = msgspec.json.encode(build_openapi())
    return json_response(msgspec.json.decode(_DOCUMENT))
