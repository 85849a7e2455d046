"""Server-rendered admin pages. They only read; every change goes through the JSON API
(`/api/admin/...`), submitted by `pwa/admin.js` with the X-HWC header, so one set of rules holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from server import access, adminlog, auth, directory, orglog, privacy, push, security_events
from server.auth import Actor
from server.clock import AMSTERDAM, local_text
from server.errors import DomainError
from server.policy import ROLE_LABELS
from server.presentation import (
    KIND_LABELS,
    OUTBOX_STATE_LABELS,
    PUSH_KIND_LABELS,
    PUSH_LABELS,
    SECURITY_KINDS,
    SIGNAL_STATE_LABELS,
)
from server.web import json_response, message_of, status_of

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

templates.env.filters["when"] = local_text
templates.env.globals.update(
    ROLE_LABELS=ROLE_LABELS,
    KIND_LABELS=KIND_LABELS,
    PUSH_LABELS=PUSH_LABELS,
    PUSH_KIND_LABELS=PUSH_KIND_LABELS,
    OUTBOX_STATE_LABELS=OUTBOX_STATE_LABELS,
    SIGNAL_STATE_LABELS=SIGNAL_STATE_LABELS,
    SECURITY_KINDS=SECURITY_KINDS,
)


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    # Every duration a page states comes from settings.
    settings = request.app.state.settings
    context = {
        "enrol_token_days": settings.enrol_token_days,
        "audit_days": settings.audit_retention_days,
        **context,
    }
    return templates.TemplateResponse(request, name, context, status_code=status)


def _actor(request: Request, *roles: str) -> Actor | Response:
    """The caller, or an HTML page that says why not (these are pages, not API routes)."""
    try:
        actor = access.authenticate(request)
    except DomainError as error:
        return _page(request, "error.html", {"message": message_of(error)}, status_of(error))
    if actor.role not in roles:
        return _page(
            request, "error.html", {"message": "Deze pagina is alleen voor de beheerder."}, 403
        )
    return actor


async def admin_home(request: Request) -> Response:
    actor = _actor(request, "admin")
    if isinstance(actor, Response):
        return actor
    db = request.app.state.db
    return _page(
        request,
        "admin_home.html",
        {
            "actor": actor,
            "failing": _failing_long(request),
            "schools": directory.orgs(db, "school"),
            "senders": [*directory.orgs(db, "veilig_thuis"), *directory.orgs(db, "leerplicht")],
            "admins": directory.people_with_devices(db, role="admin"),
            "security_events": security_events.recent(db),
        },
    )


async def admin_org(request: Request) -> Response:
    actor = _actor(request, "admin")
    if isinstance(actor, Response):
        return actor
    db = request.app.state.db
    org = directory.org(db, request.path_params["id"])
    if org is None:
        return _page(request, "error.html", {"message": "Deze organisatie bestaat niet."}, 404)
    return _page(
        request,
        "admin_org.html",
        {
            "actor": actor,
            "org": org,
            "roles": directory.ORG_ROLES[org["kind"]],
            "people": directory.people_with_devices(db, org_id=org["id"]),
            "provenance": orglog.provenance(db, org["id"]),
            "failing": {d["device_id"]: d["since"] for d in _failing_long(request)},
            "api_keys": auth.api_keys(db, org["id"]) if org["kind"] != "school" else [],
            "revoked_days": request.app.state.settings.revoked_retention_days,
            "free_days": _upcoming_free_days(db, org["id"], request.app.state.clock.now()),
            "admin_acts": (
                adminlog.of_org(db, org["id"]) if adminlog.may_read(db, actor, org["id"]) else None
            ),
        },
    )


def _failing_long(request: Request) -> list[dict[str, Any]]:
    now = request.app.state.clock.now()
    return push.failing_devices(request.app.state.db, now - push.FAILING_LONG)


def _upcoming_free_days(db: Any, org_id: str, now: float) -> list[str]:
    today = datetime.fromtimestamp(now, UTC).astimezone(AMSTERDAM).date().isoformat()
    return directory.upcoming_free_days(db, org_id, today)


def _person_record(request: Request) -> tuple[Actor, dict[str, Any]] | Response:
    actor = _actor(request, "admin")
    if isinstance(actor, Response):
        return actor
    record = privacy.person_record(request.app.state.db, request.path_params["id"])
    if record is None:
        return _page(request, "error.html", {"message": "Deze persoon bestaat niet (meer)."}, 404)
    return actor, record


async def person_page(request: Request) -> Response:
    """Everything held about one person, printable, with erasure (AVG articles 15 and 17)."""
    found = _person_record(request)
    if isinstance(found, Response):
        return found
    actor, record = found
    org_id = record["person"]["org_id"]
    settings = request.app.state.settings
    return _page(
        request,
        "person.html",
        {
            "actor": actor,
            "record": record,
            "now": request.app.state.clock.now(),
            "back": f"/admin/orgs/{org_id}" if org_id else "/admin",
            "revoked_days": settings.revoked_retention_days,
            "status_days": settings.status_retention_days,
            "show_acts": adminlog.may_read(request.app.state.db, actor, org_id),
        },
    )


async def person_export(request: Request) -> Response:
    """The same as JSON, to hand to the person."""
    found = _person_record(request)
    if isinstance(found, Response):
        return found
    return json_response(found[1])


async def school_teachers_page(request: Request) -> Response:
    """A contact person's page: the teachers of their own school, nothing else."""
    actor = _actor(request, "contact")
    if isinstance(actor, Response):
        return actor
    db = request.app.state.db
    org = directory.org(db, actor.org_id)
    return _page(
        request,
        "school_teachers.html",
        {
            "actor": actor,
            "org": org,
            "people": directory.people_with_devices(db, org_id=actor.org_id, role="teacher"),
            "provenance": orglog.provenance(db, actor.org_id),
        },
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/admin", admin_home),
        Route("/admin/orgs/{id}", admin_org),
        Route("/admin/people/{id}", person_page),
        Route("/admin/people/{id}/export.json", person_export),
        Route("/admin/school", school_teachers_page),
    ]
