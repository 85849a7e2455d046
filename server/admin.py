"""Server-rendered admin pages. They only read; every change goes through the JSON API
(`/api/admin/...`), submitted by `pwa/admin.js` with the X-HWC header, so one set of rules holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from server import auth, directory, push
from server.auth import Actor
from server.clock import AMSTERDAM, local_text
from server.web import ApiError

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

ROLE_LABELS = {"admin": "beheerder", "sender": "melder", "contact": "intern begeleider",
               "teacher": "leerkracht", "officer": "leerplichtambtenaar"}
KIND_LABELS = {"school": "School", "veilig_thuis": "Veilig Thuis",
               "leerplicht": "Leerplicht (gemeente)"}
PUSH_LABELS = {"active": "meldingen aan", "none": "meldingen uit", "gone": "meldingen uit"}


templates.env.filters["when"] = local_text
templates.env.globals.update(ROLE_LABELS=ROLE_LABELS, KIND_LABELS=KIND_LABELS,
                             PUSH_LABELS=PUSH_LABELS)


def qr_svg(link: str) -> str:
    """The enrolment link as an inline SVG QR code (dark on white, also in dark mode)."""
    return str(segno.make(link, error="m").svg_inline(scale=5, dark="#000", light="#fff",
                                                       title="QR-code van de aanmeldlink"))


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _actor(request: Request, *roles: str) -> Actor | Response:
    """The caller, or an HTML page that says why not (these are pages, not API routes)."""
    try:
        actor = auth.authenticate(request)
    except ApiError as error:
        return _page(request, "error.html", {"message": error.message}, error.status)
    if actor.role not in roles:
        return _page(request, "error.html", {"message": "Deze pagina is alleen voor de "
                                             "beheerder."}, 403)
    return actor


async def admin_home(request: Request) -> Response:
    actor = _actor(request, "admin")
    if isinstance(actor, Response):
        return actor
    db = request.app.state.db
    return _page(request, "admin_home.html", {
        "actor": actor, "failing": _failing_long(request),
        "schools": directory.orgs(db, "school"),
        "senders": [*directory.orgs(db, "veilig_thuis"), *directory.orgs(db, "leerplicht")],
        "admins": directory.people_with_devices(db, role="admin")})


async def admin_org(request: Request) -> Response:
    actor = _actor(request, "admin")
    if isinstance(actor, Response):
        return actor
    db = request.app.state.db
    org = db.execute("SELECT * FROM orgs WHERE id = ?", [request.path_params["id"]]).fetchone()
    if org is None:
        return _page(request, "error.html", {"message": "Deze organisatie bestaat niet."}, 404)
    return _page(request, "admin_org.html", {
        "actor": actor, "org": org, "roles": directory.ORG_ROLES[org["kind"]],
        "people": directory.people_with_devices(db, org_id=org["id"]),
        "failing": {d["device_id"]: d["since"] for d in _failing_long(request)},
        "api_keys": auth.api_keys(db, org["id"]) if org["kind"] != "school" else [],
        "free_days": _upcoming_free_days(db, org["id"], request.app.state.clock.now())})


def _failing_long(request: Request) -> list[dict]:
    now = request.app.state.clock.now()
    return push.failing_devices(request.app.state.db, now - push.FAILING_LONG)


def _upcoming_free_days(db: Any, org_id: str, now: float) -> list[str]:
    today = datetime.fromtimestamp(now, UTC).astimezone(AMSTERDAM).date().isoformat()
    rows = db.execute("SELECT day FROM free_days WHERE org_id = ? AND day >= ? ORDER BY day "
                      "LIMIT 60", [org_id, today]).fetchall()
    return [r[0] for r in rows]


async def school_teachers_page(request: Request) -> Response:
    """A contact person's page: the teachers of their own school, nothing else."""
    actor = _actor(request, "contact")
    if isinstance(actor, Response):
        return actor
    db = request.app.state.db
    org = db.execute("SELECT * FROM orgs WHERE id = ?", [actor.org_id]).fetchone()
    return _page(request, "school_teachers.html", {
        "actor": actor, "org": org,
        "people": directory.people_with_devices(db, org_id=actor.org_id, role="teacher")})


def routes() -> list[BaseRoute]:
    return [
        Route("/admin", admin_home),
        Route("/admin/orgs/{id}", admin_org),
        Route("/admin/school", school_teachers_page),
    ]
