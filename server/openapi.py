"""The OpenAPI document, built from the API route table and the msgspec request types."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server import models
from server.web import MESSAGES, json_response

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "error_id": {"type": "string"},
        # the request field the error is about, so a form can mark that field
        "field": {"type": "string"},
    },
}

# The success body of each route, by endpoint name (the routes build plain dicts).
RESPONSES: dict[str, Any] = {
    "enrol": models.Me,
    "me": models.Me,
    "me_key_lost": models.Revoked,
    "me_push": models.Me,
    "me_quiet": models.Me,
    "push_key": models.PushKey,
    "accessibility": models.Statement,
    "find_schools": list[models.SchoolHit],
    "school_recipients": models.Recipients,
    "send_signal": models.Sent,
    "list_signals": list[models.SignalSummary],
    "read_signal": models.SignalSummary,
    "open_signal": models.Opened,
    "school_teachers": list[models.TeacherDevices],
    "forward_signal": models.StateReply,
    "relay_signal": models.StateReply,
    "close_signal": models.StateReply,
    "teacher_done": models.StateReply,
    "admin_create_org": models.Created,
    "admin_create_region": models.Created,
    "admin_region_municipalities": models.Created,
    "admin_org_phone": models.Created,
    "admin_org_region": models.Created,
    "admin_import_schools": models.Imported,
    "admin_free_days": models.Added,
    "admin_import_free_days": models.Added,
    "admin_create_person": models.Created,
    "admin_enrol_link": models.EnrolLink,
    "admin_revoke_person": models.Revoked,
    "admin_erase_person": models.Erased,
    "admin_revoke_device": models.Revoked,
    "admin_create_api_key": models.ApiKey,
    "admin_revoke_api_key": models.Revoked,
    "admin_reset_person": models.EnrolLink,
    "me_enrol_link": models.EnrolLink,
    "my_pending": list[models.PendingDevice],
    "approve_device": models.Approved,
    "decline_device": models.Declined,
    "rotate_key": models.KeyRotated,
    "my_old_keys": models.OldKeys,
    "revoke_sibling": models.Revoked,
    "register_key": models.MachineKeyState,
    "list_keys": list[models.MachineKeyListed],
    "approve_key": models.Approved,
    "decline_key": models.Declined,
    "revoke_key": models.Revoked,
    "log_key": models.LogKey,
    "log_heads": list[models.SignedHead],
    "org_log": models.OrgLog,
    "report_security_event": models.Recorded,
    "list_security_events": list[models.SecurityEventRow],
    "admin_org_audit": list[models.AdminAct],
    "own_security_events": list[models.SecurityNotice],
}


def build_openapi() -> dict[str, Any]:
    from server.api import API_ROUTES

    bodies = sorted({r.body for r in API_ROUTES if r.body is not None}, key=lambda t: t.__name__)
    replies = [RESPONSES.get(r.endpoint.__name__, Any) for r in API_ROUTES]
    schemas, components = msgspec.json.schema_components(
        [*bodies, *replies], ref_template="#/components/schemas/{name}"
    )
    reply_schemas = schemas[len(bodies) :]
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for route, reply in zip(API_ROUTES, reply_schemas, strict=True):
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.endpoint.__name__,
            "responses": _responses(
                route.statuses, route.public, route.method != "GET", route.body is not None, reply
            ),
        }
        if route.public:
            operation["security"] = []  # no credential needed (enrolment is how one gets it)
        params = (
            [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
            if "{id}" in route.path
            else []
        )
        params += [
            {"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
            for q in route.query
        ]
        if route.method != "GET":
            params.append(
                {
                    "name": "X-HWC",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "enum": ["1"]},
                }
            )
        if params:
            operation["parameters"] = params
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}
                    }
                },
            }
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


def _responses(
    statuses: tuple[int, ...],
    public: bool,
    changes_state: bool,
    has_body: bool,
    reply: dict[str, Any],
) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    # 413: RequestGuard refuses any request whose declared body is too large, before routing.
    extra = set(statuses) | {413, 500}
    if not public:
        extra |= {401, 403}
    if changes_state:
        extra |= {403}  # the X-HWC header is missing, or Sec-Fetch-Site says cross-site
    if has_body:
        extra |= {400, 415, 422}
    result: dict[str, Any] = {}
    for status in sorted(extra):
        if status < 300:
            result[str(status)] = {
                "description": "OK",
                "content": {"application/json": {"schema": reply}},
            }
        else:
            result[str(status)] = {"description": MESSAGES.get(status, ("", ""))[1], **error}
    if "429" in result:
        result["429"]["headers"] = {
            "Retry-After": {
                "required": True,
                "description": "Seconds to wait",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return result


def api_table_markdown() -> str:
    """The README's route table: the same route table as the document."""
    from server.api import API_ROUTES

    rows = ["| method | path | who | what |", "|---|---|---|---|"]
    for r in API_ROUTES:
        who = "anyone" if r.public else ", ".join(getattr(r.endpoint, "roles", ()))
        rows.append(f"| {r.method} | `{r.path}` | {who} | {r.summary} |")
    return "\n".join(rows)


_DOCUMENT: bytes | None = None


async def openapi(request: Request) -> Response:
    global _DOCUMENT
    if _DOCUMENT is None:
        _DOCUMENT = msgspec.json.encode(build_openapi())
    return json_response(msgspec.json.decode(_DOCUMENT))
