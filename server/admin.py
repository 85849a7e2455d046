"""Server-rendered admin pages. They only read; every change goes through the JSON API
(`/api/admin/...`), submitted by `pwa/admin.js` with the X-HWC header, so one set of rules holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from server import (
    access,
    adminlog,
    auth,
    directory,
    machines,
    orglog,
    privacy,
    push,
    regions,
    scope,
    security_events,
)
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
    """The instance admin's overview; a region or organisation admin lands on their own page."""
    actor = _actor(request, "admin")
    if isinstance(actor, Response):
        return actor
    if actor.org_id is not None:
        return RedirectResponse(f"/admin/orgs/{actor.org_id}", 303)
    if actor.region_id is not None:
        return RedirectResponse(f"/admin/regions/{actor.region_id}", 303)
    db = request.app.state.db
    return _page(
        request,
        "admin_home.html",
        {
            "actor": actor,
            "failing": _failing_long(request),
            **_schools(request),
            "senders": _senders(db),
            "regions": regions.all_regions(db),
            "admins": directory.people_with_devices(db, role="admin", no_org=True),
            "security_events": security_events.recent(db),
            "admin_acts": adminlog.of_no_org(db),  # only the instance admin gets here
        },
    )


async def admin_region(request: Request) -> Response:
    """A region: its organisations, imports and admins (its region admins and the instance)."""
    found = _scoped(request, scope.managed_region, "Deze regio bestaat niet.")
    if isinstance(found, Response):
        return found
    actor, region = found
    db = request.app.state.db
    org_ids = {o["id"] for o in directory.orgs(db, region_id=region["id"])}
    return _page(
        request,
        "admin_region.html",
        {
            "actor": actor,
            "region": region,
            "home_link": _home_link(actor),
            "failing": [d for d in _failing_long(request) if d["org_id"] in org_ids],
            **_schools(request, region["id"]),
            "senders": _senders(db, region["id"]),
            "admins": directory.people_with_devices(db, role="admin", region_id=region["id"]),
            "security_events": security_events.recent(db, org_ids),
        },
    )


SCHOOLS_SHOWN = 100  # a national register holds ~9,000: the page lists some and finds any


def _schools(request: Request, region_id: str | None = None) -> dict[str, Any]:
    """The schools a page lists: the first SCHOOLS_SHOWN by name, or those the search (`?q=`,
    a plain read) finds, with how many there are in all."""
    db = request.app.state.db
    query = request.query_params.get("q", "")[:120]
    return {
        "schools": directory.orgs(db, "school", region_id, query, SCHOOLS_SHOWN),
        "schools_total": directory.count_orgs(db, "school", region_id),
        "school_query": query,
        "schools_shown": SCHOOLS_SHOWN,
    }


def _senders(db: Any, region_id: str | None = None) -> list[Any]:
    """Veilig Thuis teams, then leerplicht offices (of one region)."""
    return [
        *directory.orgs(db, "veilig_thuis", region_id),
        *directory.orgs(db, "leerplicht", region_id),
    ]


def _scoped(
    request: Request, find: Callable[[Any, Actor, str], Any], message: str
) -> tuple[Actor, Any] | Response:
    """The admin and the path's region or organisation, if in their scope; else the page that
    says why not (absent and outside the scope alike)."""
    actor = _actor(request, "admin")
    if isinstance(actor, Response):
        return actor
    try:
        return actor, find(request.app.state.db, actor, request.path_params["id"])
    except DomainError:
        return _not_found(request, actor, message)


def _home_link(actor: Actor) -> str:
    """Where "Beheer" leads this admin: their organisation, their region, or the overview."""
    if actor.org_id is not None:
        return f"/admin/orgs/{actor.org_id}"
    return f"/admin/regions/{actor.region_id}" if actor.region_id else "/admin"


def _not_found(request: Request, actor: Actor, message: str) -> Response:
    """Absent and outside the caller's scope look the same (as in the API); the way back to
    the caller's own page is on it."""
    context = {"message": message, "title": "Niet gevonden", "home_link": _home_link(actor)}
    return _page(request, "error.html", context, 404)


async def admin_org(request: Request) -> Response:
    found = _scoped(request, scope.managed_org, "Deze organisatie bestaat niet.")
    if isinstance(found, Response):
        return found
    actor, org = found
    db = request.app.state.db
    region = regions.region(db, org["region_id"])
    return _page(
        request,
        "admin_org.html",
        {
            "actor": actor,
            "org": org,
            "region": region,
            "home_link": _home_link(actor),
            "back": _org_back(actor, org),
            "roles": (*directory.ORG_ROLES[org["kind"]], "admin"),
            "people": directory.people_with_devices(db, org_id=org["id"]),
            "provenance": orglog.provenance(db, org["id"]),
            "failing": {d["device_id"]: d["since"] for d in _failing_long(request)},
            "api_keys": auth.api_keys(db, org["id"]) if org["kind"] != "school" else [],
            "machines": machines.listed(db, org["id"]) if org["kind"] != "school" else [],
            "revoked_days": request.app.state.settings.revoked_retention_days,
            "free_days": _upcoming_free_days(db, org["id"], request.app.state.clock.now()),
            "security_events": security_events.recent(db, {org["id"]}),
            "admin_acts": (
                adminlog.of_org(db, org["id"]) if adminlog.may_read(db, actor, org["id"]) else None
            ),
        },
    )


def _org_back(actor: Actor, org: Any) -> tuple[str, str] | None:
    """The page above an organisation's, for this admin (an organisation admin has none)."""
    if actor.org_id is not None:
        return None
    if org["region_id"] is not None:
        return f"/admin/regions/{org['region_id']}", "Regio"
    return "/admin", "Beheer"


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
    db = request.app.state.db
    record = privacy.person_record(db, request.path_params["id"])
    if record is None or not scope.manages_person(db, actor, record["person"]):
        return _not_found(request, actor, "Deze persoon bestaat niet (meer).")
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
            "back": f"/admin/orgs/{org_id}" if org_id else _home_link(actor),
            "home_link": _home_link(actor),
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
        Route("/admin/regions/{id}", admin_region),
        Route("/admin/orgs/{id}", admin_org),
        Route("/admin/people/{id}", person_page),
        Route("/admin/people/{id}/export.json", person_export),
        Route("/admin/school", school_teachers_page),
    ]
