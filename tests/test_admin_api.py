"""Admin API details: who may get an API key, bulk imports larger than an ordinary body."""

from __future__ import annotations

from pathlib import Path

from server import demo
from server.policy import ROLE_LABELS
from tests.support import World


def test_api_keys_only_for_sender_organisations(world: World) -> None:
    admin = world.member("admin", None)
    school, vt = world.org(), world.org("veilig_thuis", "Veilig Thuis")
    refused = admin.post("/api/admin/api-keys", json={"org_id": school, "label": "x"})
    assert (refused.status_code, refused.json()["error"]) == (422, "not_a_sender")
    unknown = admin.post("/api/admin/api-keys", json={"org_id": "nope", "label": "x"})
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_org")
    made = admin.post("/api/admin/api-keys", json={"org_id": vt, "label": "zaaksysteem"})
    assert made.status_code == 201 and made.json()["api_key"].startswith("hwc_")


def test_a_national_school_list_imports_in_one_go(world: World) -> None:
    admin = world.member("admin", None)
    rows = "".join(f"Basisschool Nummer {n},Plaats {n},{n:04d}ZZ,midden\n" for n in range(2000))
    csv = "name,place,code,region\n" + rows
    assert len(csv) > world.app.state.settings.max_body_bytes
    imported = admin.post("/api/admin/schools/import", json={"csv": csv})
    assert (imported.status_code, imported.json()) == (201, {"imported": 2000})
    too_big = admin.post("/api/admin/schools/import", json={"csv": "x" * 2_100_000})
    assert too_big.status_code == 413
    ordinary = admin.post("/api/admin/people", json={"name": "x" * 70_000, "role": "admin"})
    assert ordinary.status_code == 413


def test_errors_name_the_field_they_are_about(world: World) -> None:
    """Admin forms mark the field an error is about: the server names it (never the value)."""
    admin = world.member("admin", None)
    school = {"kind": "school", "name": "Basisschool De Es", "code": "12AB00", "region": "midden"}
    assert admin.post("/api/admin/orgs", json=school).status_code == 201
    taken = admin.post("/api/admin/orgs", json={**school, "name": "Een andere school"})
    assert (taken.status_code, taken.json()["error"], taken.json()["field"]) == (
        409,
        "code_taken",
        "code",
    )
    too_long = admin.post("/api/admin/orgs", json={**school, "code": "X" * 40})
    assert (too_long.status_code, too_long.json()["field"]) == (422, "code")
    bad_csv = admin.post("/api/admin/schools/import", json={"csv": "naam\nx"})
    assert (bad_csv.status_code, bad_csv.json()["field"]) == (422, "csv")
    wrong_role = admin.post(
        "/api/admin/people", json={"name": "Piet", "role": "sender", "org_id": world.org()}
    )
    assert (wrong_role.status_code, wrong_role.json()["field"]) == (422, "role")
    unknown = admin.post("/api/admin/orgs", json={**school, "colour": "blauw"})
    assert unknown.status_code == 422 and "field" not in unknown.json()


def test_statement_details_come_from_the_settings(db_path: Path) -> None:
    """The accessibility statement names the operator from the settings; until they are filled
    in, the defaults say so and `configured` is false. The grace minutes reach /api/me too."""
    from tests.conftest import live_world

    with live_world(db_path, view_grace_minutes=7) as world:
        statement = world.client().get("/api/accessibility").json()
        assert statement["configured"] is False and statement["view_grace_minutes"] == 7
        assert "nog in te vullen met HWC_OPERATOR_NAME" in statement["organisation"]
        teacher = world.member("teacher", world.org())
        assert teacher.get("/api/me").json()["view_grace_minutes"] == 7
    with live_world(
        db_path,
        operator_name="Gemeente Voorbeeld",
        operator_email="toegankelijkheid@voorbeeld.nl",
        operator_phone="030 123 45 67",
    ) as world:
        assert world.client().get("/api/accessibility").json() == {
            "organisation": "Gemeente Voorbeeld",
            "email": "toegankelijkheid@voorbeeld.nl",
            "phone": "030 123 45 67",
            "configured": True,
            "view_grace_minutes": 10,
            "view_extend_minutes": 5,
            "view_max_extensions": 10,
        }


def test_one_dutch_spelling_per_role(world: World) -> None:
    """The app's device panel (person.role_label in /api/me), the enrolment link, the admin
    pages and `hwc demo` name a role alike: server/policy.py's ROLE_LABELS."""
    school = world.org()
    senders = world.org("veilig_thuis", "Veilig Thuis Utrecht")
    admin = world.member("admin", None)
    for role, org in (("sender", senders), ("contact", school), ("teacher", school)):
        device = world.member(role, org)
        assert device.get("/api/me").json()["person"]["role_label"] == ROLE_LABELS[role]
        link = admin.post(f"/api/admin/people/{device.person_id}/enrol-link")
        assert link.json()["role"] == ROLE_LABELS[role]
    assert ROLE_LABELS["sender"] == "melder"
    page = admin.get(f"/admin/orgs/{senders}")
    assert page.status_code == 200 and ">melder<" in page.text
    lines = demo.seed_demo(world.app)
    assert any(line.startswith("  Sanne de Melder (melder): ") for line in lines), lines
