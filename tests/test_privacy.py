"""Staff's personal data: an admin's export of one person, full erasure of someone who leaves,
and the directory's retention rules, each fired by the timers with the fake clock."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from server import auth, keylog, machines, privacy, timers
from server.cli import main as hwc
from server.clock import AMSTERDAM, FrozenClock
from server.envelope import generate_device_key
from tests.conftest import live_world
from tests.support import Device, World
from tests.test_api_auth import relax_limits
from tests.test_inventory import schema_columns

NAME, BORN = "Xylofoon Quaggazwemmer", "2015-06-01"
TEACHER = "Gerritdina Vondelpark-Quist"
SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/geheim-pad-8d1f",
    "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
}
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
    return {
        "school": school,
        "admin": admin,
        "contact": contact,
        "teacher": teacher_id,
        "phones": phones,
        "signal": signal_id,
    }


def _every_value(w: World) -> str:
    """Every value of every row of every table, as one text; the key log aside, which keeps a
    person's random ids and public keys (never a name) as long as the organisation exists, so
    that no history can be rewritten unnoticed (docs/gegevens.md, `keylog`)."""
    tables = [
        r[0]
        for r in w.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if r[0] != "keylog"
    ]
    rows = [tuple(r) for t in tables for r in w.db.execute(f"SELECT * FROM {t}")]  # noqa: S608
    return repr(rows)


def test_admin_sees_everything_held_about_a_person_without_signal_content(world: World) -> None:
    s = _school_with_a_forwarded_signal(world)
    ref = world.db.execute("SELECT ref FROM signals").fetchone()[0]
    page = s["admin"].get(f"/admin/people/{s['teacher']}")
    assert page.status_code == 200
    for shown in (
        TEACHER,
        "groep 7",
        "leerkracht",
        "telefoon teacher",
        "fcm.googleapis.com",
        ref,
        "signaal voor leerkracht",
        "ontvangen",
        "Alle gegevens van",
    ):
        assert shown in page.text, shown
    for withheld in (NAME, BORN, "geheim-pad", s["phones"][0].credential.split(".")[1]):
        assert withheld not in page.text
    export = s["admin"].get(f"/admin/people/{s['teacher']}/export.json").json()
    assert export["person"]["name"] == TEACHER
    assert [d["push_service"] for d in export["devices"]] == ["fcm.googleapis.com"] * 2
    assert [d["envelopes_waiting"] for d in export["devices"]] == [1, 1]
    assert [x["ref"] for x in export["signals_received"]] == [ref]
    # pushes: the signal to each phone, and to the first "a new device waits for approval"
    assert len(export["enrol_links"]) == 3 and len(export["pushes"]) == 3
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


def test_a_restore_tells_the_operator_to_erase_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backup made before an erasure still holds the person (README: keep backups no longer
    than the revoked retention); restoring it says so."""
    db_path, backup = tmp_path / "live.db", tmp_path / "backup.db"
    with live_world(db_path) as w:
        admin = w.member("admin", None)
        teacher = w.person("teacher", w.org(), name=TEACHER)
        assert hwc(["backup", str(backup), "--database", str(db_path)]) == 0
        assert admin.post(f"/api/admin/people/{teacher}/erase").status_code == 200
        assert TEACHER not in _every_value(w)
    capsys.readouterr()
    assert hwc(["restore", str(backup), "--database", str(db_path), "--force"]) == 0
    assert "erase them again" in capsys.readouterr().out
    with live_world(db_path) as w:
        assert TEACHER in _every_value(w)
        again = w.member("admin", None).post(f"/api/admin/people/{teacher}/erase")
        assert again.status_code == 200
        assert TEACHER not in _every_value(w)


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
        key = admin.post(
            "/api/admin/api-keys",
            json={"org_id": w.org("veilig_thuis", "VT"), "label": "zaaksysteem"},
        ).json()["api_key"]
        machine = w.client({"Authorization": f"Bearer {key}"})
        assert machine.get("/api/signals").status_code == 200
        revoked = admin.post(f"/api/admin/api-keys/{auth.api_key_id(key)}/revoke")
        assert revoked.status_code == 200
        assert machine.get("/api/signals").status_code == 401
        assert admin.post("/api/admin/api-keys/nokey/revoke").status_code == 404
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


# --- a year --------------------------------------------------------------------------------

# What each table's rule allows no longer, at :now (the inventory states each rule). `orgs` has
# no time rule: an organisation stays while it takes part (docs/gegevens.md says why).
FORBIDDEN = {
    "meta": "SELECT key FROM meta WHERE key NOT IN ('schema_version', 'secret_key', "
    "'vapid_private_key', 'log_private_key', 'keylog_genesis')",
    "security_events": "SELECT id FROM security_events WHERE at <= :now - :status",
    "free_days": "SELECT day FROM free_days WHERE day < :today",
    "people": "SELECT id FROM people WHERE revoked_at <= :now - :revoked",
    "devices": "SELECT id FROM devices WHERE revoked_at <= :now - :revoked OR (push IS NOT NULL "
    "AND (push_state != 'active' OR revoked_at IS NOT NULL))",
    "enrol_tokens": "SELECT id FROM enrol_tokens WHERE coalesce(spent_at, expires_at) <= "
    ":now - :tokens OR person_id NOT IN (SELECT id FROM people) "
    "OR created_by NOT IN (SELECT id FROM people)",
    "api_keys": "SELECT id FROM api_keys WHERE revoked_at <= :now - :revoked",
    "machine_keys": "SELECT id FROM machine_keys WHERE revoked_at <= :now - :revoked",
    "signals": "SELECT id FROM signals WHERE ended_at <= :now - :status "
    "OR (ended_at IS NULL AND expires_at <= :now) "
    "OR acted_by NOT IN (SELECT id FROM people)",
    "signal_events": "SELECT signal_id FROM signal_events "
    "WHERE signal_id NOT IN (SELECT id FROM signals)",
    "signal_teachers": "SELECT signal_id FROM signal_teachers WHERE signal_id NOT IN "
    "(SELECT id FROM signals) OR person_id NOT IN (SELECT id FROM people)",
    "envelopes": "SELECT signal_id FROM envelopes WHERE signal_id NOT IN (SELECT id FROM "
    "signals WHERE ended_at IS NULL) OR device_id IN (SELECT id FROM devices "
    "WHERE revoked_at IS NOT NULL) OR (role = 'teacher' AND opened_at <= :now - "
    ":grace)",
    "admin_log": "SELECT id FROM admin_log WHERE at <= :now - :audit "
    "OR person_id NOT IN (SELECT id FROM people) OR device_id NOT IN (SELECT id FROM devices) "
    "OR (actor_kind = 'person' AND actor_id NOT IN (SELECT id FROM people))",
    "outbox": "SELECT id FROM outbox WHERE (state != 'pending' AND created_at <= :now - :status) "
    "OR signal_id NOT IN (SELECT id FROM signals) "
    "OR device_id NOT IN (SELECT id FROM devices)",
}
KEPT_WHILE_IN_USE = {"orgs", "regions", "keylog"}  # while the organisation or region takes part
HOUR = 3600.0
# Monday 4 January 2027, 09:00: a year of Mondays from here (school holidays included).
YEAR_START = datetime(2027, 1, 4, 9, 0, tzinfo=AMSTERDAM).timestamp()


def forbidden_rows(w: World, now: float) -> dict[str, list]:
    timing = w.app.state.timing
    params = {
        "now": now,
        "revoked": timing.revoked_retention,
        "tokens": timing.token_retention,
        "audit": timing.audit_retention,
        "status": timing.retention,
        "grace": timing.view_grace,
        "today": privacy.local_date(now),
    }
    found = {
        table: [r[0] for r in w.db.execute(sql, params).fetchall()]
        for table, sql in FORBIDDEN.items()
    }
    return {table: rows for table, rows in found.items() if rows}


def run_timers_until(w: World, clock: FrozenClock, target: float) -> None:
    """What the scheduler does: wake at every due moment up to `target`, and at `target`."""
    timing = w.app.state.timing
    while (due := timers.next_due(w.db, timing)) is not None and due <= target:
        clock.advance(max(due - clock.now(), 0.0))
        fired = timers.run_due(w.db, clock.now(), timing)
        assert any(fired.values()), f"due at {due} but nothing fired"
    clock.advance(target - clock.now())
    timers.run_due(w.db, clock.now(), timing)


class Year:
    """A school, a Veilig Thuis team and an admin through a year of weekly signals, with
    teachers who come, change phones and leave. It notes when each thing should end."""

    def __init__(self, w: World, clock: FrozenClock) -> None:
        self.w, self.clock = w, clock
        self.school = w.org(name="Basisschool Het Jaar")
        self.vt = w.org("veilig_thuis", "Veilig Thuis Jaarland")
        self.admin = w.member("admin", None)
        self.sender = w.member("sender", self.vt)
        self.contact = w.member("contact", self.school)
        self.teachers: list[Device] = []  # active, oldest first
        self.revoked: dict[str, float] = {}  # person or device id: when revoked
        self.erased: set[str] = set()
        self.ended: dict[str, float] = {}  # signal id: when it ends

    def at(self, moment: float) -> None:
        run_timers_until(self.w, self.clock, moment)
        assert forbidden_rows(self.w, moment) == {}

    def new_teacher(self, week: int) -> Device:
        made = self.admin.post(
            "/api/admin/people",
            json={
                "name": f"Leerkracht week {week}",
                "role": "teacher",
                "org_id": self.school,
                "class_label": f"groep {week % 8 + 1}",
            },
        )
        person_id = made.json()["id"]
        link = self.admin.post(f"/api/admin/people/{person_id}/enrol-link").json()["link"]
        teacher = self.w.device(person_id, push=SUBSCRIPTION, token=link.split("#", 1)[1])
        self.teachers.append(teacher)
        return teacher

    def send(self) -> tuple[str, float]:
        sent = self.w.send(self.sender, self.school, NAME, BORN)
        assert sent.status_code == 201, sent.text
        return sent.json()["id"], datetime.fromisoformat(sent.json()["expires_at"]).timestamp()

    def handle(self, week: int, monday: float) -> None:
        """Four ways a signal goes: finished, left to expire, teacher never looks, closed."""
        signal_id, expires = self.send()
        self.at(monday + 22 * HOUR)  # Tuesday 07:00, before school
        way = week % 4
        if way in (0, 2):
            self.contact.open(signal_id)
            teacher = self.teachers[-1]
            assert (
                self.w.forward(
                    self.contact, signal_id, self.school, [teacher.person_id], NAME, BORN
                ).status_code
                == 200
            )
            if way == 0:
                assert teacher.open(signal_id)["name"] == NAME
                self.at(self.clock.now() + 4 * HOUR)
                self.close(signal_id, "done")
                return
        elif way == 3:
            self.contact.open(signal_id)
            self.close(signal_id, "told_in_person")
            return
        self.ended[signal_id] = expires

    def close(self, signal_id: str, reason: str) -> None:
        closed = self.contact.post(f"/api/signals/{signal_id}/close", json={"reason": reason})
        assert closed.status_code == 200, closed.text
        self.ended[signal_id] = self.clock.now()

    def revoke_oldest_teacher(self) -> None:
        teacher = self.teachers.pop(0)
        assert self.admin.post(f"/api/admin/people/{teacher.person_id}/revoke").status_code == 200
        self.revoked[teacher.person_id] = self.clock.now()

    def lose_a_phone(self) -> None:
        """A teacher's second phone is wiped: the app reports the lost key, which revokes it."""
        spare = self.w.device(self.teachers[-1].person_id)
        self.at(self.clock.now() + 24 * HOUR)
        assert spare.post("/api/me/key-lost").status_code == 200
        self.revoked[spare.device_id] = self.clock.now()

    def erase_a_leaver(self) -> None:
        teacher = self.teachers.pop(0)
        assert self.admin.post(f"/api/admin/people/{teacher.person_id}/erase").status_code == 200
        self.erased.add(teacher.person_id)


def test_a_year_leaves_only_what_each_rule_allows(db_path: Path) -> None:
    clock = FrozenClock(YEAR_START)
    with live_world(db_path, clock) as w:
        relax_limits(w)
        timing = w.app.state.timing
        year = Year(w, clock)
        for week in range(52):
            monday = YEAR_START + week * 7 * DAY
            year.at(monday)
            year.new_teacher(week)
            if week % 4 == 1:
                year.admin.post(f"/api/admin/people/{year.teachers[0].person_id}/enrol-link")
                year.admin.post(
                    f"/api/admin/orgs/{year.school}/free-days",
                    json={"from": privacy.local_date(monday + 4 * DAY)},
                )
            if week % 6 == 5:  # the push service answered 410, as the worker records it
                w.db.execute(
                    "UPDATE devices SET push_state = 'gone' WHERE id = ?",
                    [year.teachers[0].device_id],
                )
            if week == 20:
                key = year.admin.post(
                    "/api/admin/api-keys", json={"org_id": year.vt, "label": "zs"}
                ).json()["api_key"]
                sig_key = keylog.public_b64u(generate_device_key()[0])
                machine = machines.register(
                    w.db, year.vt, auth.api_key_id(key), sig_key, clock.now()
                )["id"]
            if week == 21:  # a sending system's key declined on a sender's phone
                machines.decline(w.db, "server", year.vt, machine, clock.now())
            if week == 30:
                year.admin.post(f"/api/admin/api-keys/{auth.api_key_id(key)}/revoke")
            year.at(monday + 11 * HOUR)  # Monday 20:00
            year.handle(week, monday)
            year.at(monday + 2 * DAY + HOUR)  # Wednesday 10:00
            if week % 3 == 2:
                year.revoke_oldest_teacher()
            if week % 5 == 4:
                year.lose_a_phone()
            if week == 40:
                year.erase_a_leaver()
        end = YEAR_START + 365 * DAY
        year.at(end)

        assert set(FORBIDDEN) | KEPT_WHILE_IN_USE == {t for t, _ in schema_columns(w.db)}
        people = {r[0] for r in w.db.execute("SELECT id FROM people")}
        kept = {i for i, at in year.revoked.items() if at > end - timing.revoked_retention}
        active = {t.person_id for t in year.teachers} | {
            d.person_id for d in (year.admin, year.sender, year.contact)
        }
        assert people == active | (kept & people) and kept & people
        assert not year.erased & people
        assert len(year.revoked) >= 25 and people.isdisjoint(set(year.revoked) - kept)
        devices = {r[0] for r in w.db.execute("SELECT id FROM devices WHERE revoked_at IS NULL")}
        assert devices == {t.device_id for t in year.teachers} | {
            d.device_id for d in (year.admin, year.sender, year.contact)
        }
        signals = {r[0] for r in w.db.execute("SELECT id FROM signals")}
        assert signals == {s for s, at in year.ended.items() if at > end - timing.retention}
        assert len(year.ended) == 52 and 1 <= len(signals) <= 3
        assert w.db.execute("SELECT count(*) FROM envelopes").fetchone()[0] == 0
        tokens = w.db.execute("SELECT min(coalesce(spent_at, expires_at)) FROM enrol_tokens")
        assert tokens.fetchone()[0] > end - timing.token_retention
