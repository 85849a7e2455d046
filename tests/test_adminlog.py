"""The admin audit trail (server/adminlog.py, issue 23 item 4): every act one row with its
actor and target, through real HTTP; readable only by the admins above the organisation; purged
after its retention; never a signal or anything about a child; the "Beheerlog" on the pages."""

from __future__ import annotations

import html
from typing import Any

from server import adminlog, auth, regions, timers
from server.auth import Actor
from server.clock import local_text
from server.db import Store
from server.models import NewRegion
from tests.support import Device, World
from tests.test_api_auth import enrol_attempt

NAME, BORN = "Zebediah Quokkaplons", "2016-02-29"
INGRID, TOM = "Ingrid Bakker", "Tom de Vries"


class Trail:
    """The rows the audit trail gained since the last look."""

    def __init__(self, db: Store) -> None:
        self.db = db
        self.seen = self._last()

    def _last(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM admin_log").fetchone()[0])

    def new(self) -> list[tuple[Any, ...]]:
        rows = self.db.execute(
            "SELECT act, actor_kind, actor_id, actor_role, person_id, person_role, device_id, "
            "org_id, api_key_id FROM admin_log WHERE id > ? ORDER BY id",
            [self.seen],
        ).fetchall()
        self.seen = self._last()
        return [tuple(r) for r in rows]


def act(
    kind: str,
    actor: Device | None,
    person: str | None,
    role: str | None,
    org: str,
    device: str | None = None,
    key: str | None = None,
) -> tuple[Any, ...]:
    """A row as expected: `actor` None is the server."""
    if actor is None:
        return (kind, "server", None, None, person, role, device, org, key)
    return (kind, "person", actor.person_id, actor.role, person, role, device, org, key)


def token_of(response: Any) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["link"].partition("#")[2])


def _school(w: World) -> tuple[str, Device, Device]:
    school = w.org(name="Basisschool De Vlinder")
    admin = w.member("admin", None, name="Anna Beheer")
    contact = w.member("contact", school, name=INGRID)
    return school, admin, contact


def test_every_act_records_one_row_with_its_actor_and_target(world: World) -> None:
    school, admin, contact = _school(world)
    trail = Trail(world.db)
    made = admin.post(
        "/api/admin/people", {"name": TOM, "role": "teacher", "org_id": school, "class_label": "5b"}
    )
    tom = made.json()["id"]
    assert trail.new() == [act("person_created", admin, tom, "teacher", school)]

    link = contact.post(f"/api/admin/people/{tom}/enrol-link")
    assert trail.new() == [act("link_made", contact, tom, "teacher", school)]
    phone = world.enrol(tom, token=token_of(link))
    assert trail.new() == [act("enrolled", phone, tom, "teacher", school, phone.device_id)]

    second = world.enrol(tom, token=token_of(admin.post(f"/api/admin/people/{tom}/enrol-link")))
    assert second.pending
    assert trail.new() == [
        act("link_made", admin, tom, "teacher", school),
        act("enrolled", phone, tom, "teacher", school, second.device_id),
    ]
    assert phone.approve(second, school).status_code == 200
    assert trail.new() == [act("device_approved", phone, tom, "teacher", school, second.device_id)]

    third = world.enrol(tom, token=token_of(phone.post("/api/me/enrol-link")))
    assert trail.new() == [
        act("link_made", phone, tom, "teacher", school),
        act("enrolled", phone, tom, "teacher", school, third.device_id),
    ]
    assert phone.post(f"/api/me/devices/{third.device_id}/decline").status_code == 200
    assert trail.new() == [act("device_declined", phone, tom, "teacher", school, third.device_id)]

    assert phone.post(f"/api/me/devices/{second.device_id}/revoke").status_code == 200
    assert trail.new() == [act("device_revoked", phone, tom, "teacher", school, second.device_id)]
    assert admin.post(f"/api/admin/devices/{phone.device_id}/revoke").status_code == 200
    assert trail.new() == [act("device_revoked", admin, tom, "teacher", school, phone.device_id)]
    assert admin.post(f"/api/admin/devices/{phone.device_id}/revoke").status_code == 200
    assert trail.new() == []  # nothing happened the second time

    fresh = world.enrol(tom, token=token_of(contact.post(f"/api/admin/people/{tom}/enrol-link")))
    trail.new()
    reset = contact.post(f"/api/admin/people/{tom}/reset")
    assert reset.status_code == 201
    assert trail.new() == [  # one row for the reset, however many devices it ended
        act("person_reset", contact, tom, "teacher", school),
        act("link_made", contact, tom, "teacher", school),
    ]
    lost = world.enrol(tom, token=token_of(reset))
    assert lost.post("/api/me/key-lost").status_code == 200
    assert trail.new() == [
        act("enrolled", lost, tom, "teacher", school, lost.device_id),
        act("device_revoked", lost, tom, "teacher", school, lost.device_id),
    ]
    assert fresh.get("/api/me").status_code == 401

    assert contact.post(f"/api/admin/people/{tom}/revoke").status_code == 200
    assert trail.new() == [act("person_revoked", contact, tom, "teacher", school)]
    assert admin.post(f"/api/admin/people/{tom}/erase").status_code == 200
    # Erased: the rows stay with the roles, the person's ids are gone (server/privacy.py).
    assert trail.new() == [act("person_erased", admin, None, "teacher", school)]
    assert (
        world.db.execute("SELECT count(*) FROM admin_log WHERE person_id = ?", [tom]).fetchone()[0]
        == 0
    )


def test_a_second_waiting_device_ends_the_first_as_the_server(world: World) -> None:
    """Two devices waiting for one person are refused together (docs/keylog.md): the first is
    revoked by the server, the second never exists, so it is no act."""
    school, _, contact = _school(world)
    first = world.enrol(contact.person_id)
    trail = Trail(world.db)
    refused = enrol_attempt(world, world.enrol_link_token(contact.person_id))
    assert (refused.status_code, refused.json()["error"]) == (409, "two_pending")
    assert trail.new() == [
        act("link_made", None, contact.person_id, "contact", school),  # the test's own link
        act("device_revoked", None, contact.person_id, "contact", school, first.device_id),
    ]


def test_api_keys_made_and_revoked_are_acts_on_the_organisation(world: World) -> None:
    admin = world.member("admin", None, name="Anna Beheer")
    team = world.org("veilig_thuis", "Veilig Thuis Utrecht")
    trail = Trail(world.db)
    made = admin.post("/api/admin/api-keys", {"org_id": team, "label": "zaaksysteem"})
    assert made.status_code == 201, made.text
    key_id = auth.api_key_id(made.json()["api_key"])
    assert trail.new() == [act("api_key_made", admin, None, None, team, None, key_id)]
    for _ in range(2):  # the second time revokes nothing
        assert admin.post(f"/api/admin/api-keys/{key_id}/revoke").status_code == 200
    assert trail.new() == [act("api_key_revoked", admin, None, None, team, None, key_id)]
    texts = [a["text"] for a in admin.get(f"/api/admin/orgs/{team}/audit").json()]
    assert texts == [  # the label the page's list shows beside the id, while the key is kept
        f"Anna Beheer (beheerder) trok API-sleutel 'zaaksysteem' ({key_id}) in",
        f"Anna Beheer (beheerder) maakte API-sleutel 'zaaksysteem' ({key_id})",
    ]
    assert key_id in admin.get(f"/admin/orgs/{team}").text
    assert made.json()["api_key"].partition(".")[2] not in repr(
        world.db.execute("SELECT * FROM admin_log").fetchall()
    )  # the secret never


def test_the_trail_reads_in_dutch_and_shows_erased_people_as_removed(world: World) -> None:
    school, admin, contact = _school(world)
    tom = contact.post(
        "/api/admin/people", {"name": TOM, "role": "teacher", "org_id": school}
    ).json()["id"]
    phone = world.enrol(tom, token=token_of(contact.post(f"/api/admin/people/{tom}/enrol-link")))
    texts = [a["text"] for a in admin.get(f"/api/admin/orgs/{school}/audit").json()]
    assert texts[:3] == [
        f"{TOM} (leerkracht) meldde een apparaat aan",
        f"{INGRID} (intern begeleider) maakte een aanmeldlink voor {TOM}",
        f"{INGRID} (intern begeleider) voegde {TOM} toe",
    ]
    first = admin.get(f"/api/admin/orgs/{school}/audit").json()[0]
    assert first["actor"] == {"kind": "person", "id": tom, "role": "teacher", "name": TOM}
    assert first["device_id"] == phone.device_id

    assert admin.post(f"/api/admin/people/{contact.person_id}/erase").status_code == 200
    texts = [a["text"] for a in admin.get(f"/api/admin/orgs/{school}/audit").json()]
    assert texts[0] == f"Anna Beheer (beheerder) verwijderde alle gegevens van {adminlog.ERASED}"
    assert f"{adminlog.ERASED} (intern begeleider) voegde {TOM} toe" in texts
    assert not any(INGRID in text for text in texts)


def test_only_the_admins_above_the_organisation_read_the_trail(world: World) -> None:
    school, admin, contact = _school(world)
    teacher = world.member("teacher", school)
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    for device in (contact, teacher, sender):
        refused = device.get(f"/api/admin/orgs/{school}/audit")
        assert refused.status_code == 403, refused.text
        assert "Beheerlog" not in device.get(f"/admin/orgs/{school}").text
        assert "Beheerlog" not in device.get(f"/admin/people/{teacher.person_id}").text
    unknown = admin.get("/api/admin/orgs/AAAAAAAAAAAAAAAAAAAAAA/audit")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_org")
    assert admin.get(f"/api/admin/orgs/{school}/audit").status_code == 200


def test_rows_are_purged_after_the_retention(world: World) -> None:
    _school(world)
    timing = world.app.state.timing
    newest = world.db.execute("SELECT max(at) FROM admin_log").fetchone()[0]
    count = world.db.execute("SELECT count(*) FROM admin_log").fetchone()[0]
    assert count >= 4 and timing.audit_retention == 365 * 86400.0
    oldest = world.db.execute("SELECT min(at) FROM admin_log").fetchone()[0]
    assert timers.fire(world.db, "audit_purged", oldest + timing.audit_retention - 1, timing) == 0
    purged = timers.fire(world.db, "audit_purged", newest + timing.audit_retention, timing)
    assert purged == count
    assert world.db.execute("SELECT count(*) FROM admin_log").fetchone()[0] == 0


def test_the_trail_holds_no_signal_and_nothing_about_a_child(world: World) -> None:
    school, admin, contact = _school(world)
    teacher = world.member("teacher", school, name=TOM)
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    sent = world.send(sender, school, NAME, BORN)
    assert sent.status_code == 201, sent.text
    signal_id, ref = sent.json()["id"], sent.json()["ref"]
    assert contact.open(signal_id)["name"] == NAME
    forwarded = world.forward(contact, signal_id, school, [teacher.person_id], NAME, BORN)
    assert forwarded.status_code == 200
    assert teacher.open(signal_id)["name"] == NAME
    assert contact.post(f"/api/signals/{signal_id}/close", {"reason": "done"}).status_code == 200
    columns = [c[1] for c in world.db.execute("PRAGMA table_info(admin_log)").fetchall()]
    assert columns == [
        *("id", "at", "org_id", "act", "actor_kind", "actor_id", "actor_role"),
        *("person_id", "person_role", "device_id", "api_key_id"),
    ]  # no free text: a new column has to be argued in docs/gegevens.md
    rows = repr(world.db.execute("SELECT * FROM admin_log").fetchall())
    answer = admin.get(f"/api/admin/orgs/{school}/audit").text
    page = admin.get(f"/admin/orgs/{school}").text
    for trace in (signal_id, ref, NAME, BORN, "Zebediah"):
        assert trace not in rows and trace not in answer and trace not in page, trace
    acts = {r[0] for r in world.db.execute("SELECT DISTINCT act FROM admin_log").fetchall()}
    assert acts <= set(adminlog.ACTS) and acts == {"person_created", "link_made", "enrolled"}


def test_the_pages_show_the_trail_in_amsterdam_time(world: World) -> None:
    school, admin, contact = _school(world)
    tom = contact.post(
        "/api/admin/people", {"name": TOM, "role": "teacher", "org_id": school}
    ).json()["id"]
    assert contact.post(f"/api/admin/people/{tom}/enrol-link").status_code == 201
    at = world.db.execute("SELECT max(at) FROM admin_log").fetchone()[0]
    page = html.unescape(admin.get(f"/admin/orgs/{school}").text)
    assert 'id="beheerlog">Beheerlog</h2>' in page
    sentence = f"{INGRID} (intern begeleider) maakte een aanmeldlink voor {TOM}"
    assert f'<tr><td data-label="Tijd">{local_text(at)}</td><td>{sentence}</td></tr>' in page
    assert "365 dagen" in page
    person = html.unescape(admin.get(f"/admin/people/{tom}").text)
    assert sentence in person and f"{INGRID} (intern begeleider) voegde {TOM} toe" in person
    ingrid = html.unescape(admin.get(f"/admin/people/{contact.person_id}").text)
    assert sentence in ingrid  # acts by the person too
    export = admin.get(f"/admin/people/{tom}/export.json").json()
    assert [a["act"] for a in export["admin_acts"]] == ["link_made", "person_created"]


def test_region_and_organisation_admins_read_their_own_trails_only(world: World) -> None:
    """Scope from server/scope.py: a region admin reads the organisations of the region, an
    organisation admin their own; another organisation answers 404 as one that does not exist.
    Acts about people of no organisation (region and instance admins) are the instance
    admin's alone."""
    now = world.now()
    region = regions.create_region(world.db, NewRegion("Regio Utrecht", "Utrecht"), now)
    elsewhere = regions.create_region(world.db, NewRegion("Regio Ver", "Verweg"), now)
    inside = world.org(name="Basisschool De Vlinder", region_id=region)
    outside = world.org(name="Basisschool Elders", region_id=elsewhere)
    admin = world.member("admin", None, name="Anna Beheer")
    made = admin.post(
        "/api/admin/people", {"name": "Rik Regio", "role": "admin", "region_id": region}
    )
    assert made.status_code == 201, made.text
    region_admin = world.device(made.json()["id"])
    school_admin = world.member("admin", inside, name="Dirk Directeur")
    contact = school_admin.post(
        "/api/admin/people", {"name": INGRID, "role": "contact", "org_id": inside}
    )
    assert contact.status_code == 201, contact.text
    for reader in (region_admin, school_admin):
        texts = [a["text"] for a in reader.get(f"/api/admin/orgs/{inside}/audit").json()]
        assert texts[0] == f"Dirk Directeur (beheerder) voegde {INGRID} toe"
        refused = reader.get(f"/api/admin/orgs/{outside}/audit")
        assert (refused.status_code, refused.json()["error"]) == (404, "unknown_org")
    assert "Beheerlog" in html.unescape(school_admin.get(f"/admin/orgs/{inside}").text)
    # The instance admin's overview has the trail of region and instance admins.
    home = html.unescape(admin.get("/admin").text)
    assert "Beheerlog van de beheerders van de dienst en de regio's" in home
    assert "Anna Beheer (beheerder) voegde Rik Regio toe" in home
    assert "Dirk Directeur" not in home and INGRID not in home  # theirs is the school's
    as_region = Actor(role="admin", org_id=None, org_kind=None, region_id=region)
    assert adminlog.may_read(world.db, as_region, inside)
    assert not adminlog.may_read(world.db, as_region, outside)
    assert not adminlog.may_read(world.db, as_region, None)
    assert adminlog.may_read(world.db, Actor(role="admin", org_id=None, org_kind=None), None)


def test_sending_systems_registered_approved_declined_and_revoked_are_acts(world: World) -> None:
    """A sending system's key gains the right to sign in the organisation's name: who let it
    (a sender's phone), and which API key registered it, is in the organisation's trail."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from server import keylog

    admin = world.member("admin", None, name="Anna Beheer")
    team = world.org("veilig_thuis", "Veilig Thuis Utrecht")
    sender = world.member("sender", team, name="Sanne de Melder")
    secret = admin.post("/api/admin/api-keys", {"org_id": team, "label": "zaaksysteem"})
    key_id = auth.api_key_id(secret.json()["api_key"])
    system = world.client({"Authorization": f"Bearer {secret.json()['api_key']}"})

    def register() -> tuple[str, str]:
        sig_key = keylog.public_b64u(ec.generate_private_key(ec.SECP256R1()))
        made = system.post("/api/machine-keys", json={"sig_key": sig_key})
        assert made.status_code == 201, made.text
        return made.json()["id"], sig_key

    trail = Trail(world.db)
    machine, sig_key = register()
    statement = keylog.machine_statement(team, machine, sig_key)
    approval = {"approval": keylog.sign(sender.sig_private, statement)}
    assert sender.post(f"/api/org/machine-keys/{machine}/approve", approval).status_code == 200
    assert sender.post(f"/api/org/machine-keys/{machine}/revoke").status_code == 200
    declined, _ = register()
    assert sender.post(f"/api/org/machine-keys/{declined}/decline").status_code == 200
    by_key = ("machine_registered", "api_key", key_id, None, None, None)
    by_sender = ("person", sender.person_id, "sender", None, None)
    assert trail.new() == [  # the system's own id is in the key log, not here
        (*by_key, None, team, key_id),
        ("machine_approved", *by_sender, None, team, key_id),
        ("machine_revoked", *by_sender, None, team, key_id),
        (*by_key, None, team, key_id),
        ("machine_declined", *by_sender, None, team, key_id),
    ]
    texts = [a["text"] for a in admin.get(f"/api/admin/orgs/{team}/audit").json()]
    system_of = f"het registratiesysteem van API-sleutel 'zaaksysteem' ({key_id})"
    assert texts[:5] == [  # newest first
        f"Sanne de Melder (melder) weigerde {system_of}",
        f"Een API-sleutel meldde {system_of} aan",
        f"Sanne de Melder (melder) trok {system_of} in",
        f"Sanne de Melder (melder) keurde {system_of} goed",
        f"Een API-sleutel meldde {system_of} aan",
    ]
