"""The admin scopes (server/scope.py), through real HTTP: every role (instance admin, region
admin, organisation admin of a school and of a Veilig Thuis, contact, teacher, sender, officer,
API key) x every admin route and admin page x a thing of their own organisation, of another
organisation in their own region, and of an organisation in another region ("elsewhere").

Inside the caller's scope the request is valid and must succeed; outside it the answer is the
one a nonexistent id gets (404; an unknown code in a CSV: 422), so ids cannot be probed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server import auth, regions, security_events
from server.models import NewRegion
from tests.conftest import live_world
from tests.support import Device, World
from tests.test_api_auth import Call, cookie_of, relax_limits

ADMINS = ("instance", "region", "schooladmin", "vtadmin")
OTHERS = ("contact", "teacher", "sender", "officer", "apikey")
ROLES = ADMINS + OTHERS
TARGETS = ("own", "region", "elsewhere")
PEOPLE_GATE = frozenset({*ADMINS, "contact"})


class Scopes:
    """Region R ("own": the callers' region) and region E (elsewhere); in R two schools and
    two Veilig Thuis teams (the callers' own and another), in E one of each."""

    def __init__(self, world: World) -> None:
        w = self.world = world
        now = w.now()
        self.region_ids = {
            "own": regions.create_region(w.db, NewRegion("Regio Eigen", "Eigenstad"), now),
            "elsewhere": regions.create_region(w.db, NewRegion("Regio Ver", "Verweg"), now),
        }
        self.region_ids["region"] = self.region_ids["own"]
        self.school = {t: w.org(name=f"Basisschool {t}", region_id=self.rid(t)) for t in TARGETS}
        self.vt = {
            t: w.org("veilig_thuis", f"Veilig Thuis {t}", region_id=self.rid(t)) for t in TARGETS
        }
        leerplicht = w.org("leerplicht", "Leerplicht Eigenstad", region_id=self.rid("own"))
        callers: dict[str, Device] = {
            "instance": w.member("admin", None),
            "region": w.device(w.person("admin", None, region_id=self.rid("own"))),
            "schooladmin": w.member("admin", self.school["own"]),
            "vtadmin": w.member("admin", self.vt["own"]),
            "contact": w.member("contact", self.school["own"]),
            "teacher": w.member("teacher", self.school["own"], class_label="groep 3"),
            "sender": w.member("sender", self.vt["own"]),
            "officer": w.member("officer", leerplicht),
        }
        self.admin = callers["instance"]
        self.callers = callers
        key = auth.make_api_key(w.db, self.vt["own"], "zaaksysteem", now)
        self.identity = {role: cookie_of(device) for role, device in callers.items()}
        self.identity["apikey"] = {"Authorization": f"Bearer {key}"}
        self.http = w.client()

    def rid(self, target: str) -> str:
        return self.region_ids[target]

    def org(self, role: str, target: str) -> str:
        """The organisation of a target, of the caller's own kind (a team's admin and its
        senders: a Veilig Thuis; everyone else: a school)."""
        return (self.vt if kind_of(role) == "vt" else self.school)[target]

    def person(self, role: str, target: str) -> str:
        """A person the caller could manage if the target were theirs: a teacher of a school,
        a sender of a Veilig Thuis."""
        org_role = "sender" if kind_of(role) == "vt" else "teacher"
        return self.world.person(org_role, self.org(role, target))

    def request(self, role: str, call: Call) -> int:
        headers = {"X-HWC": "1", **self.identity[role]}
        response = self.http.request(
            call.method, call.url, json=call.json, headers=headers, follow_redirects=False
        )
        self.http.cookies.clear()
        return response.status_code


def kind_of(role: str) -> str:
    return "vt" if role in ("vtadmin", "sender", "apikey") else "school"


def reaches(role: str, target: str, kind: str) -> bool:
    """Whether the role administers a target organisation of this kind."""
    if role == "instance":
        return True
    if role == "region":
        return target in ("own", "region")
    own_kind = {"schooladmin": "school", "vtadmin": "vt", "contact": "school"}.get(role)
    return own_kind == kind and target == "own"


@dataclass(frozen=True)
class Case:
    """One admin route or page: who passes its gate, how to call it, what outside gives."""

    build: Callable[[Scopes, str, str], Call]
    gate: frozenset[str]
    targeted: bool = True  # False: the same whatever the target (no id of anything)
    outside: int = 404
    kind: str | None = None  # the target's kind when it is fixed (else the caller's own kind)


def import_csv(s: Scopes, role: str, target: str) -> Call:
    code = "I" + secrets.token_hex(4).upper()
    csv = f"name,place,code,region\nObs De Linde,Eigenstad,{code},midden\n"
    return Call("POST", "/api/admin/schools/import", {"csv": csv}, 201)


def free_days_csv(s: Scopes, role: str, target: str) -> Call:
    code = s.world.db.execute("SELECT code FROM orgs WHERE id = ?", [s.school[target]]).fetchone()[
        0
    ]
    csv = f"code,from,to\n{code},2031-03-03,2031-03-04\n"
    return Call("POST", "/api/admin/free-days/import", {"csv": csv}, 201)


def new_person(s: Scopes, role: str, target: str) -> Call:
    org_role = "sender" if kind_of(role) == "vt" else "teacher"
    body = {"name": "Juf Ans", "role": org_role, "org_id": s.org(role, target)}
    return Call("POST", "/api/admin/people", body, 201)


def person_action(action: str, ok: int = 200) -> Callable[[Scopes, str, str], Call]:
    def build(s: Scopes, role: str, target: str) -> Call:
        return Call("POST", f"/api/admin/people/{s.person(role, target)}/{action}", ok=ok)

    return build


def revoke_device(s: Scopes, role: str, target: str) -> Call:
    device = s.world.device(s.person(role, target))
    return Call("POST", f"/api/admin/devices/{device.device_id}/revoke")


def revoke_api_key(s: Scopes, role: str, target: str) -> Call:
    key = auth.make_api_key(s.world.db, s.vt[target], "oude koppeling", s.world.now())
    return Call("POST", f"/api/admin/api-keys/{auth.api_key_id(key)}/revoke")


def home_page(s: Scopes, role: str, target: str) -> Call:
    ok = {"instance": 200, "region": 303, "schooladmin": 303, "vtadmin": 303}.get(role, 200)
    return Call("GET", "/admin", ok=ok)


CASES: dict[str, Case] = {
    "POST /api/admin/regions": Case(
        lambda s, r, t: Call("POST", "/api/admin/regions", {"name": secrets.token_hex(4)}, 201),
        frozenset({"instance"}),
        targeted=False,
    ),
    "POST /api/admin/regions/{id}/municipalities": Case(
        lambda s, r, t: Call(
            "POST", f"/api/admin/regions/{s.rid(t)}/municipalities", {"municipalities": "Verweg"}
        ),
        frozenset({"instance"}),
        kind="region",
    ),
    "POST /api/admin/orgs": Case(
        lambda s, r, t: Call(
            "POST",
            "/api/admin/orgs",
            {"kind": "veilig_thuis", "name": f"VT {secrets.token_hex(3)}", "region_id": s.rid(t)},
            201,
        ),
        frozenset({"instance", "region"}),
        targeted=False,  # a region admin's goes into their own region (checked below)
    ),
    "POST /api/admin/schools/import": Case(
        import_csv, frozenset({"instance", "region"}), targeted=False
    ),
    "POST /api/admin/orgs/{id}/free-days": Case(
        lambda s, r, t: Call(
            "POST", f"/api/admin/orgs/{s.school[t]}/free-days", {"from": "2031-03-03"}, 201
        ),
        frozenset(ADMINS),
        kind="school",
    ),
    "POST /api/admin/orgs/{id}/phone": Case(
        lambda s, r, t: Call("POST", f"/api/admin/orgs/{s.org(r, t)}/phone", {"phone": "030 1"}),
        frozenset(ADMINS),
    ),
    "POST /api/admin/orgs/{id}/region": Case(
        lambda s, r, t: Call("POST", f"/api/admin/orgs/{s.school[t]}/region", {"region": "zuid"}),
        frozenset(ADMINS),
        kind="school",
    ),
    "POST /api/admin/free-days/import": Case(
        free_days_csv, frozenset(ADMINS), outside=422, kind="school"
    ),
    "POST /api/admin/people": Case(new_person, PEOPLE_GATE),
    "POST /api/admin/people/{id}/enrol-link": Case(person_action("enrol-link", 201), PEOPLE_GATE),
    "POST /api/admin/people/{id}/reset": Case(person_action("reset", 201), PEOPLE_GATE),
    "POST /api/admin/people/{id}/revoke": Case(person_action("revoke"), PEOPLE_GATE),
    "POST /api/admin/people/{id}/erase": Case(person_action("erase"), frozenset(ADMINS)),
    "POST /api/admin/devices/{id}/revoke": Case(revoke_device, PEOPLE_GATE),
    "POST /api/admin/api-keys": Case(
        lambda s, r, t: Call("POST", "/api/admin/api-keys", {"org_id": s.vt[t], "label": "k"}, 201),
        frozenset(ADMINS),
        kind="vt",
    ),
    "POST /api/admin/api-keys/{id}/revoke": Case(revoke_api_key, frozenset(ADMINS), kind="vt"),
    "GET /api/admin/security-events": Case(
        lambda s, r, t: Call("GET", "/api/admin/security-events"),
        frozenset(ADMINS),
        targeted=False,
    ),
    "GET /api/admin/orgs/{id}/audit": Case(
        lambda s, r, t: Call("GET", f"/api/admin/orgs/{s.org(r, t)}/audit"), frozenset(ADMINS)
    ),
    "GET /admin": Case(home_page, frozenset(ADMINS), targeted=False),
    "GET /admin/regions/{id}": Case(
        lambda s, r, t: Call("GET", f"/admin/regions/{s.rid(t)}"),
        frozenset({"instance", "region", "schooladmin", "vtadmin"}),
        kind="region",
    ),
    "GET /admin/orgs/{id}": Case(
        lambda s, r, t: Call("GET", f"/admin/orgs/{s.org(r, t)}"), frozenset(ADMINS)
    ),
    "GET /admin/people/{id}": Case(
        lambda s, r, t: Call("GET", f"/admin/people/{s.person(r, t)}"), frozenset(ADMINS)
    ),
    "GET /admin/people/{id}/export.json": Case(
        lambda s, r, t: Call("GET", f"/admin/people/{s.person(r, t)}/export.json"),
        frozenset(ADMINS),
    ),
}


def expected(case: Case, role: str, target: str, call: Call) -> int:
    if role not in case.gate:
        return 403
    if not case.targeted:
        return call.ok
    if case.kind == "region":  # only the instance and the region's own admins reach a region
        inside = role == "instance" or (role == "region" and target != "elsewhere")
    else:
        inside = reaches(role, target, case.kind or kind_of(role))
    return call.ok if inside else case.outside


@pytest.fixture(scope="module")
def scopes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scopes]:
    with live_world(Path(tmp_path_factory.mktemp("scope")) / "hwc.db") as world:
        relax_limits(world)
        yield Scopes(world)


def test_every_admin_route_and_page_is_in_the_matrix() -> None:
    from server import admin
    from server.api import API_ROUTES

    admin_routes = {f"{r.method} {r.path}" for r in API_ROUTES if "/api/admin/" in r.path}
    pages = {f"GET {r.path}" for r in admin.routes()} - {"GET /admin/school"}  # a contact's
    assert admin_routes | pages == set(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_admin_route_reaches_exactly_its_scope(scopes: Scopes, name: str) -> None:
    case = CASES[name]
    observed, wanted = {}, {}
    for role in ROLES:
        for target in TARGETS:
            call = case.build(scopes, role, target)
            observed[role, target] = scopes.request(role, call)
            wanted[role, target] = expected(case, role, target, call)
    assert observed == wanted, {
        k: (observed[k], wanted[k]) for k in observed if observed[k] != wanted[k]
    }


def test_a_region_admins_organisations_are_in_their_region(scopes: Scopes) -> None:
    region_admin = scopes.identity["region"]
    body = {"kind": "school", "name": "Obs Ver", "code": "ZZ99", "region": "noord"}
    body["region_id"] = scopes.rid("elsewhere")
    made = scopes.http.post("/api/admin/orgs", json=body, headers={"X-HWC": "1", **region_admin})
    assert made.status_code == 201, made.text
    row = scopes.world.db.execute(
        "SELECT region_id FROM orgs WHERE id = ?", [made.json()["id"]]
    ).fetchone()
    assert row[0] == scopes.rid("own")


def test_no_admin_reaches_above_their_scope(scopes: Scopes) -> None:
    """Region and instance admins are managed by the instance admin only; an organisation
    admin never makes an admin of a region or the instance, nor one of another organisation."""
    w = scopes.world
    above = {
        "instance admin": scopes.admin.person_id,
        "own region admin": w.person("admin", None, region_id=scopes.rid("own")),
        "other region admin": w.person("admin", None, region_id=scopes.rid("elsewhere")),
    }
    for role in ("region", "schooladmin", "vtadmin"):
        for what, person_id in above.items():
            for action in ("enrol-link", "reset", "revoke", "erase"):
                call = Call("POST", f"/api/admin/people/{person_id}/{action}")
                assert scopes.request(role, call) == 404, (role, what, action)
        for body in (
            {"name": "Nieuwe Baas", "role": "admin"},
            {"name": "Nieuwe Baas", "role": "admin", "region_id": scopes.rid("own")},
        ):
            assert scopes.request(role, Call("POST", "/api/admin/people", body)) == 403, body
        body = {"name": "Baas", "role": "admin", "org_id": scopes.school["elsewhere"]}
        assert scopes.request(role, Call("POST", "/api/admin/people", body)) == 404
    # ...while the region admin makes a school's first admin, and that admin one of its own.
    for role in ("region", "schooladmin"):
        body = {"name": "Directeur", "role": "admin", "org_id": scopes.school["own"]}
        assert scopes.request(role, Call("POST", "/api/admin/people", body)) == 201
    made = Call("POST", "/api/admin/people", {"name": "Regio", "role": "admin"})
    assert scopes.request("instance", made) == 201
    both = {"name": "X", "role": "admin", "org_id": scopes.school["own"]}
    both["region_id"] = scopes.rid("own")
    assert scopes.request("instance", Call("POST", "/api/admin/people", both)) == 422


def test_security_events_are_listed_within_scope(scopes: Scopes) -> None:
    w = scopes.world
    for target in TARGETS:
        security_events.record(w.db, "recipients_mismatch", scopes.school[target], None, w.now())
    seen = {}
    for role in ADMINS:
        response = scopes.http.get(
            "/api/admin/security-events", headers=scopes.identity[role]
        ).json()
        seen[role] = {e["org_id"] for e in response}
    school = scopes.school
    assert set(school.values()) <= seen["instance"]
    assert seen["region"] == {school["own"], school["region"]}
    assert seen["schooladmin"] == {school["own"]}
    assert seen["vtadmin"] == set()


def test_the_instance_admin_creates_regions_and_the_pages_say_where_one_is(
    scopes: Scopes,
) -> None:
    admin = scopes.admin
    made = admin.post("/api/admin/regions", json={"name": "Regio Eigen"})
    assert (made.status_code, made.json()["error"]) == (409, "region_taken")
    path = f"/api/admin/regions/{scopes.rid('own')}/municipalities"
    changed = admin.post(path, json={"municipalities": " eigenstad;Nieuwdorp , Eigenstad"})
    assert changed.status_code == 200
    listed = regions.region(scopes.world.db, scopes.rid("own"))
    assert listed is not None and listed["municipalities"] == "eigenstad, Nieuwdorp"
    home = admin.get("/admin").text
    assert "Regio Eigen" in home and "Regio Ver" in home and "Regio toevoegen" in home
    region_home = scopes.http.get("/admin", headers=scopes.identity["region"])
    assert region_home.headers["location"] == f"/admin/regions/{scopes.rid('own')}"
    page = scopes.http.get(region_home.headers["location"], headers=scopes.identity["region"])
    assert "Basisschool own" in page.text and "Basisschool region" in page.text
    assert "Basisschool elsewhere" not in page.text
    assert "Scholen importeren" in page.text and "Regiobeheerder toevoegen" not in page.text
    org_home = scopes.http.get("/admin", headers=scopes.identity["schooladmin"])
    assert org_home.headers["location"] == f"/admin/orgs/{scopes.school['own']}"


def test_an_organisation_admin_is_in_its_key_log_and_never_a_recipient(scopes: Scopes) -> None:
    school = scopes.school["own"]
    school_admin = scopes.callers["schooladmin"]
    entries = scopes.http.get(f"/api/orgs/{school}/log").json()["entries"]
    added = [e for e in entries if e.get("person") == school_admin.person_id]
    assert [(e["kind"], e.get("role")) for e in added] == [
        ("person_added", "admin"),
        ("device_added", None),
    ]
    recipients = scopes.callers["sender"].get(f"/api/schools/{school}/recipients").json()
    ids = {d["device_id"] for d in recipients["devices"]}
    assert scopes.callers["contact"].device_id in ids
    assert school_admin.device_id not in ids
    # Region and instance admins are people of no organisation's log.
    above = {scopes.callers["region"].person_id, scopes.admin.person_id}
    for org_id in [*scopes.school.values(), *scopes.vt.values()]:
        entries = scopes.http.get(f"/api/orgs/{org_id}/log").json()["entries"]
        assert not above & {e.get("person") for e in entries}


def test_a_security_events_reporter_outside_the_scope_is_not_named(scopes: Scopes) -> None:
    """An event about one's own organisation, reported by an organisation outside one's scope:
    the event is listed, its reporter (which school got a signal in one's name) is not."""
    w = scopes.world
    far, own = scopes.school["elsewhere"], scopes.vt["own"]
    security_events.record(w.db, "bad_signature", own, far, w.now())
    security_events.record(w.db, "bad_signature", own, scopes.school["region"], w.now())
    reporters = {}
    for role in ("instance", "region", "vtadmin"):
        response = scopes.http.get("/api/admin/security-events", headers=scopes.identity[role])
        mine = [e for e in response.json() if e["org_id"] == own and e["kind"] == "bad_signature"]
        reporters[role] = sorted(str(e["reporter_org_id"]) for e in mine)
    assert reporters["instance"] == sorted([far, scopes.school["region"]])
    assert reporters["region"] == sorted(["None", scopes.school["region"]])
    assert reporters["vtadmin"] == ["None", "None"]


def test_the_region_page_offers_a_region_admin_nothing_that_answers_not_found(
    scopes: Scopes,
) -> None:
    """The region's admins are the instance admin's to manage: a region admin's page lists
    them without links or buttons that would only say "Niet gevonden"."""
    region_admin = scopes.callers["region"]
    path = f"/admin/regions/{scopes.rid('own')}"
    page = scopes.http.get(path, headers=scopes.identity["region"]).text
    for link in sorted(set(re.findall(r'href="(/admin/[^"#]+)"', page))):
        answer = scopes.http.get(link, headers=scopes.identity["region"], follow_redirects=False)
        assert answer.status_code in (200, 303), link
    for action in re.findall(r'data-api="(/api/admin/(?:people|devices)/[^"]+)"', page):
        assert region_admin.person_id not in action and region_admin.device_id not in action
    assert "beheerder van de hele dienst" in page
    instance_view = scopes.http.get(path, headers=scopes.identity["instance"]).text
    assert f"/api/admin/people/{region_admin.person_id}/enrol-link" in instance_view
