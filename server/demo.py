"""Demo data for `hwc demo`: one school, one Veilig Thuis team, one leerplicht office, and one
person per role, each with a fresh enrolment link. Each organisation's key log is checked valid
(server/keylog.py); devices enrolled through the links enter it with their signing keys."""

from __future__ import annotations

from starlette.applications import Starlette

from server import auth, directory, orglog
from server.db import meta_get, meta_set
from server.models import NewOrg, NewPerson, Role
from server.policy import ROLE_LABELS

DEMO_ORGS = (
    NewOrg(
        kind="school",
        name="Basisschool De Regenboog",
        place="Utrecht",
        code="12AB00",
        region="midden",
    ),
    NewOrg(kind="veilig_thuis", name="Veilig Thuis Utrecht", place="Utrecht"),
    NewOrg(
        kind="leerplicht",
        name="Leerplicht Utrecht",
        place="Utrecht",
        municipalities="Utrecht, Nieuwegein",
    ),
)
# (name, role, index into DEMO_ORGS or None, class label)
DEMO_PEOPLE: tuple[tuple[str, Role, int | None, str], ...] = (
    ("Anna Beheer", "admin", None, ""),
    ("Sanne de Melder", "sender", 1, ""),
    ("Ingrid Bakker", "contact", 0, ""),
    ("Tom Jansen", "teacher", 0, "groep 5b"),
    ("Lotte Plicht", "officer", 2, ""),
)


def seed_demo(app: Starlette) -> list[str]:
    db, now, settings = app.state.db, app.state.clock.now(), app.state.settings
    if meta_get(db, "demo_people") is None:
        org_ids = [directory.create_org(db, org, now) for org in DEMO_ORGS]
        people = [
            directory.create_person(
                db,
                NewPerson(
                    name=name,
                    role=role,
                    class_label=label,
                    org_id=None if index is None else org_ids[index],
                ),
                now,
            )
            for name, role, index, label in DEMO_PEOPLE
        ]
        meta_set(db, "demo_people", ",".join(people))
    heads = [orglog.state(db, org_id).head() for (org_id,) in db.execute("SELECT id FROM orgs")]
    lines = [
        f"Demo-database: {settings.database}",
        "Sleutellijsten geldig: "
        + ", ".join(f"{h['size']} regels" for h in heads)
        + " (apparaten melden zich aan met een eigen ondertekensleutel)",
        "Aanmeldlinks (elk eenmalig, open op het "
        "apparaat van die persoon; in één browser: een apart profiel per persoon):",
    ]
    for person_id in (meta_get(db, "demo_people") or "").split(","):
        person = directory.person(db, person_id)
        if person is None:
            continue
        token = auth.make_enrol_token(
            db, app.state.secret_key, person_id, None, now, settings.enrol_token_days
        )
        lines.append(
            f"  {person['name']} ({ROLE_LABELS[person['role']]}): "
            f"{auth.enrol_link(settings.base_url, token)}"
        )
    return lines
