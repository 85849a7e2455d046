"""Staff's personal data: an admin's export of one person, full erasure of someone who leaves,
and the directory's retention rules, each fired by the timers with the fake clock."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from server import timers
from server.clock import AMSTERDAM, FrozenClock
from tests.conftest import live_world
from tests.support import Device, World

NAME, BORN = "Xylofoon Quaggazwemmer", "2015-06-01"
TEACHER = "Gerritdina Vondelpark-Quist"
SUBSCRIPTION = {"endpoint": "https://push.example.org/geheim-pad-8d1f",
                "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22}}
DAY = 86400.0
# Monday 7 December 2026, 20:00 in Amsterdam.
START = datetime(2026, 12, 7, 20, 0, tzinfo=AMSTERDAM).timestamp()


def _school_with_a_forwarded_signal(w: World) -> dict:
    school = w.org()
    admin = w.member("admin", None)
    sender = w.member("sender", w.org("veilig_thuis", "Veilig Thuis"))
    contact = w.member("contact", school)
    teacher_id = w.person("teacher", school, name=TEACHER, class_label="groep 7")
    phones = [w.device(teacher_id, push=SUBSCRIPTION) for _ in range(2)]
    signal_id = w.send(sender, school, NAME, BORN).json()["id"]
    contact.open(signal_id)
    assert w.forward(contact, signal_id, school, [teacher_id], NAME, BORN).status_code == 200
    link = contact.post(f"/api/admin/people/{teacher_id}/enrol-link")  # unspent, by the contact
    assert link.status_code == 201
    return {"school": school, "admin": admin, "contact": contact, "teacher": teacher_id,
            "phones": phones, "signal": signal_id}


def _every_value(w: World) -> str:
    """Every value of every row of every table, as one text."""
    tables = [r[0] for r in w.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    rows = [tuple(r) for t in tables for r in w.db.execute(f"SELECT * FROM {t}")]  # noqa: S608
    return repr(rows)


def test_admin_sees_everything_held_about_a_person_without_signal_content(world: World) -> None:
    s = _school_with_a_forwarded_signal(world)
    ref = world.db.execute("SELECT ref FROM signals").fetchone()[0]
    page = s["admin"].get(f"/admin/people/{s['teacher']}")
    assert page.status_code == 200
    for shown in (TEACHER, "groep 7", "leerkracht", "telefoon teacher", "push.example.org",
                  ref, "signaal voor leerkracht", "ontvangen", "Alle gegevens van"):
        assert shown in page.text, shown
    for withheld in (NAME, BORN, "geheim-pad", s["phones"][0].credential.split(".")[1]):
        assert withheld not in page.text
    export = s["admin"].get(f"/admin/people/{s['teacher']}/export.json").json()
    assert export["person"]["name"] == TEACHER
    assert [d["push_service"] for d in export["devices"]] == ["push.example.org"] * 2
    assert [d["envelopes_waiting"] for d in export["devices"]] == [1, 1]
    assert [x["ref"] for x in export["signals_received"]] == [ref]
    assert len(export["enrol_links"]) == 3 and len(export["pushes"]) == 2
    assert "geheim-pad" not in json.dumps(export) and NAME not in json.dumps(export)
    # Only an admin: the contact who manages this teacher, and nobody without a device, not.
    assert s["contact"].get(f"/admin/people/{s['teacher']}").status_code == 403
    assert s["contact"].get(f"/admin/people/{s['teacher']}/export.json").status_code == 403
    assert world.client().get(f"/admin/people/{s['teacher']}").status_code == 401
    assert s["admin"].get("/admin/people/nobody").status_code == 404


def test_erasure_leaves_no_row_and_no_byte_of_the_person(world: World) -> None:
    s = _school_with_a_forwarded_signal(world)
    phones: list[Device] = s["phones"]
    teacher = s["teacher"]
    traces = [teacher, TEACHER, *(p.device_id for p in phones), "geheim-pad"]
    assert all(t in _every_value(world) for t in traces)
    erased = s["admin"].post(f"/api/admin/people/{teacher}/erase")
    assert (erased.status_code, erased.json()) == (200, {"erased": True})
    assert [t for t in traces if t in _every_value(world)] == []
    # secure_delete and the WAL truncated at commit: the name is in no byte of the files.
    db_file = Path(world.app.state.settings.database)
    for path in (db_file, Path(f"{db_file}-wal")):
        assert not path.exists() or TEACHER.encode() not in path.read_bytes(), path
    assert phones[0].get("/api/me").status_code == 401
    # The signal's status goes on without them; the contact's own rows are untouched.
    assert world.db.execute("SELECT count(*) FROM signals").fetchone()[0] == 1
    assert s["contact"].get("/api/me").status_code == 200
    assert s["admin"].post(f"/api/admin/people/{teacher}/erase").status_code == 404
    # The contact who made links leaves: the links stay, without their name.
    contact_id = s["contact"].person_id
    assert s["admin"].post(f"/api/admin/people/{contact_id}/erase").status_code == 200
    assert contact_id not in _every_value(world)
    admin_id = s["admin"].person_id
    refused = s["admin"].post(f"/api/admin/people/{admin_id}/erase")
    assert (refused.status_code, refused.json()["error"]) == (409, "erase_self")


def _fire(w: World, clock: FrozenClock, at: float) -> dict[str, int]:
    clock.advance(at - clock.now())
    return timers.run_due(w.db, clock.now(), w.app.state.timing)


def _count(w: World, sql: str, params: list | None = None) -> int:
    return int(w.db.execute(sql, params or []).fetchone()[0])


def test_each_directory_rule_fires_at_its_moment_and_not_before(db_path: Path) -> None:
    clock = FrozenClock(START)
    with live_world(db_path, clock) as w:
        timing = w.app.state.timing
        school = w.org()
        admin = w.member("admin", None)
        leaver = w.member("teacher", school)
        stayer = w.device(w.person("teacher", school), push=SUBSCRIPTION)
        lost = w.device(stayer.person_id)
        unused = w.enrol_link_token(stayer.person_id)
        assert unused
        admin.post(f"/api/admin/people/{leaver.person_id}/revoke")
        admin.post(f"/api/admin/devices/{lost.device_id}/revoke")
        admin.post(f"/api/admin/orgs/{school}/free-days", json={"from": "2026-12-09"})
        admin.post("/api/admin/api-keys", json={"org_id": w.org("veilig_thuis", "VT"),
                                                "label": "zaaksysteem"})
        w.db.execute("UPDATE api_keys SET revoked_at = ?", [START])  # no revoke route yet
        # The push service answered 410: the worker marks the subscription gone.
        w.db.execute("UPDATE devices SET push_state = 'gone' WHERE id = ?", [stayer.device_id])

        _fire(w, clock, START + 1)
        assert _count(w, "SELECT count(*) FROM devices WHERE push IS NOT NULL") == 0
        assert _count(w, "SELECT count(*) FROM free_days") == 1
        _fire(w, clock, datetime(2026, 12, 10, 0, 0, tzinfo=AMSTERDAM).timestamp())
        assert _count(w, "SELECT count(*) FROM free_days") == 0  # 9 December has passed

        tokens = "SELECT count(*) FROM enrol_tokens"
        assert _count(w, tokens) == 5
        assert _fire(w, clock, START + timing.revoked_retention - 1)["directory_purged"] == 0
        assert timers.next_due(w.db, timing) == START + timing.revoked_retention
        assert _fire(w, clock, START + timing.revoked_retention)["directory_purged"] > 0
        assert _count(w, "SELECT count(*) FROM people WHERE id = ?", [leaver.person_id]) == 0
        assert _count(w, "SELECT count(*) FROM devices WHERE id = ?", [lost.device_id]) == 0
        assert _count(w, "SELECT count(*) FROM api_keys") == 0
        # Four links were spent at START, so gone now; the unused one expires after
        # enrol_token_days and goes token_retention after that.
        assert _count(w, tokens) == 1
        expiry = START + w.app.state.settings.enrol_token_days * DAY
        assert _fire(w, clock, expiry + timing.token_retention - 1)["directory_purged"] == 0
        assert _fire(w, clock, expiry + timing.token_retention)["directory_purged"] == 1
        assert _count(w, tokens) == 0
        assert stayer.get("/api/me").status_code == 200
        assert _count(w, "SELECT count(*) FROM people") == 2  # the admin and the stayer
