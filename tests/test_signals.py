"""The signal lifecycle on the domain functions themselves, beside the HTTP tests: a temporary
database, actors enrolled through `auth`, a frozen clock; each step asserts the state, the
events of the timeline, who still holds a copy and which pushes were queued."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from server import approvals, auth, directory, keylog, signals, states, timers
from server import db as database
from server.calendar import Timing as CalendarTiming
from server.clock import FrozenClock
from server.envelope import b64u_encode, decode_content, decrypt_envelope, generate_device_key
from server.errors import Conflict, DomainError, NotFound
from server.models import DeviceEnvelope, NewOrg, NewPerson
from server.policy import Timing
from tests.support import new_signal_id, seal
from tests.test_timers import DEADLINE, EXPIRY, SENT

NAME, BORN = "Xylofoon Quaggazwemmer", "2015-06-01"
SECRET = secrets.token_urlsafe(32)
SUBSCRIPTION = json.dumps(
    {"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": "B", "auth": "A"}}
)
TIMING = Timing(
    calendar=CalendarTiming(),
    view_grace=600.0,
    remind_after=1800.0,
    relay_remind_after=3600.0,
    retention=14 * 86400.0,
)


@dataclass
class Member:
    """A person with one enrolled device, as the domain sees the caller."""

    actor: auth.Actor
    private_key: ec.EllipticCurvePrivateKey

    @property
    def device_id(self) -> str:
        assert self.actor.device_id is not None
        return self.actor.device_id


class Life:
    """A school, a Veilig Thuis office and a leerplicht office on a temporary database."""

    def __init__(self, path: Path) -> None:
        self.db = database.connect(str(path))
        self.clock = FrozenClock(SENT)
        # person id -> (first device id, its signing key): it approves the person's others
        self.first_devices: dict[str, tuple[str, ec.EllipticCurvePrivateKey]] = {}
        self.school = self.org("school", "Basisschool De Regenboog", code="S00001", region="midden")
        self.office = self.org("veilig_thuis", "Veilig Thuis")
        self.leerplicht = self.org("leerplicht", "Leerplicht Utrecht")

    def now(self) -> float:
        return self.clock.now()

    def approve(self, person: str, org: str, device: str, enc_key: bytes, sig_key: bytes) -> None:
        """The person's first device signs the new one's keys (docs/keylog.md)."""
        approver, signer = self.first_devices[person]
        fields = (b64u_encode(enc_key), b64u_encode(sig_key))
        statement = keylog.approval_statement(org, person, device, *fields)
        approval = keylog.sign(signer, statement)
        approvals.approve(self.db, approver, person, org, device, approval, self.now())

    def org(self, kind: str, name: str, **kw: Any) -> str:
        return directory.create_org(self.db, NewOrg(kind=kind, name=name, **kw), self.now())

    def member(self, role: str, org_id: str, person_id: str | None = None) -> Member:
        """A device of a new person, or another device of `person_id`."""
        person_id = person_id or directory.create_person(
            self.db,
            NewPerson(name=f"{role} {secrets.token_hex(2)}", role=role, org_id=org_id),
            self.now(),
        )
        private_key, public_key = generate_device_key()
        token = auth.make_enrol_token(self.db, SECRET, person_id, None, self.now(), 7)
        token_id = auth.token_id(SECRET, token, 7)
        assert token_id is not None
        sig_private, sig_key = generate_device_key()
        device = auth.NewDevice(public_key, sig_key, f"telefoon {role}", SUBSCRIPTION)
        enrolled = auth.enrol_device(self.db, token_id, device, self.now())
        if person_id in self.first_devices:  # a further device waits for the first's approval
            self.approve(person_id, org_id, enrolled.device_id, public_key, sig_key)
        else:
            self.first_devices[person_id] = (enrolled.device_id, sig_private)
        actor = auth.device_actor(self.db, enrolled.credential, self.now())
        assert actor is not None
        return Member(actor, private_key)

    def send(self, sender: Member, to: str) -> str:
        signal_id = new_signal_id()
        sealed = seal(signals.recipients(self.db, to), signal_id, NAME, BORN)
        signals.send_signal(
            self.db, sender.actor, signal_id, to, envelopes(sealed), self.now(), TIMING
        )
        return signal_id

    def forward(self, contact: Member, signal_id: str, *teachers: Member) -> dict:
        ids = [t.actor.person_id for t in teachers]
        chosen = signals.teacher_devices(self.db, self.school, [i for i in ids if i])
        devices = [d for t in chosen for d in t["devices"]]
        return signals.forward_signal(
            self.db,
            contact.actor,
            signal_id,
            [i for i in ids if i],
            envelopes(seal(devices, signal_id, NAME, BORN)),
            self.now(),
            TIMING,
        )

    def relay(self, officer: Member, signal_id: str, school_id: str) -> dict:
        sealed = seal(signals.recipients(self.db, school_id), signal_id, NAME, BORN)
        return signals.relay_signal(
            self.db, officer.actor, signal_id, school_id, envelopes(sealed), self.now(), TIMING
        )

    def open(self, member: Member, signal_id: str) -> dict:
        """Open as the member's device; the content must decrypt to the child sent."""
        opened = signals.open_envelope(self.db, member.actor, signal_id, self.now(), TIMING)
        plaintext = decrypt_envelope(
            member.private_key, signal_id, member.device_id, opened["envelope"]
        )
        assert decode_content(plaintext) == {"name": NAME, "birth_date": BORN}
        return opened

    def close(self, member: Member, signal_id: str, reason: str) -> dict:
        return signals.close_signal(
            self.db, member.actor, signal_id, states.CloseReason(reason), self.now()
        )

    def fire(self, at: float) -> dict[str, int]:
        self.clock.advance(at - self.now())
        return timers.run_due(self.db, self.now(), TIMING)

    def state(self, signal_id: str) -> str:
        return str(self.row(signal_id)["state"])

    def row(self, signal_id: str) -> Any:
        return self.db.execute("SELECT * FROM signals WHERE id = ?", [signal_id]).fetchone()

    def events(self, signal_id: str) -> list[tuple[str, int | None, str | None]]:
        rows = self.db.execute(
            "SELECT kind, count, detail FROM signal_events WHERE signal_id = ? ORDER BY at, rowid",
            [signal_id],
        )
        return [(r[0], r[1], r[2]) for r in rows.fetchall()]

    def holders(self, signal_id: str) -> set[str]:
        rows = self.db.execute("SELECT device_id FROM envelopes WHERE signal_id = ?", [signal_id])
        return {r[0] for r in rows.fetchall()}

    def pushes(self, kind: str) -> list[str]:
        rows = self.db.execute("SELECT device_id FROM outbox WHERE kind = ? ORDER BY id", [kind])
        return [r[0] for r in rows.fetchall()]


def envelopes(sealed: list[dict]) -> list[DeviceEnvelope]:
    return [msgspec.convert(item, DeviceEnvelope) for item in sealed]


@contextmanager
def refused(kind: type[DomainError], code: str) -> Iterator[None]:
    """The domain refuses with this error and code; the caller then checks nothing changed."""
    with pytest.raises(kind) as caught:
        yield
    assert caught.value.code == code


@pytest.fixture
def life(tmp_path: Path) -> Iterator[Life]:
    world = Life(tmp_path / "hwc.db")
    yield world
    world.db.close()


@dataclass
class School:
    """Veilig Thuis sender, two contacts and two teachers of the school (one with two phones)."""

    sender: Member
    contact: Member
    colleague: Member
    teacher: Member
    teacher_tablet: Member
    duo: Member


@pytest.fixture
def people(life: Life) -> School:
    teacher = life.member("teacher", life.school)
    return School(
        sender=life.member("sender", life.office),
        contact=life.member("contact", life.school),
        colleague=life.member("contact", life.school),
        teacher=teacher,
        teacher_tablet=life.member("teacher", life.school, teacher.actor.person_id),
        duo=life.member("teacher", life.school),
    )


def contacts(people: School) -> set[str]:
    return {people.contact.device_id, people.colleague.device_id}


def test_send_seals_to_every_contact_device_and_queues_their_push(
    life: Life, people: School
) -> None:
    signal_id = life.send(people.sender, life.school)
    row = life.row(signal_id)
    assert (row["state"], row["deadline_at"], row["expires_at"]) == ("sent", DEADLINE, EXPIRY)
    assert row["remind_at"] == SENT + TIMING.remind_after
    assert life.events(signal_id) == [("sent", 2, None)]
    assert life.holders(signal_id) == contacts(people)
    assert sorted(life.pushes("new_signal")) == sorted(contacts(people))


def test_send_refuses_a_reused_id_and_a_stale_device_list(life: Life, people: School) -> None:
    signal_id = life.send(people.sender, life.school)
    sealed = seal(signals.recipients(life.db, life.school), signal_id, NAME, BORN)
    with refused(Conflict, "id_reused"):
        signals.send_signal(
            life.db, people.sender.actor, signal_id, life.school, envelopes(sealed), SENT, TIMING
        )
    fresh = new_signal_id()
    with refused(Conflict, "devices_changed"):
        signals.send_signal(
            life.db, people.sender.actor, fresh, life.school, envelopes(sealed[:1]), SENT, TIMING
        )
    assert life.row(fresh) is None
    assert life.events(signal_id) == [("sent", 2, None)]


def test_first_open_moves_sent_to_opened_once(life: Life, people: School) -> None:
    signal_id = life.send(people.sender, life.school)
    assert life.open(people.contact, signal_id)["state"] == "opened"
    assert life.open(people.colleague, signal_id)["state"] == "opened"
    assert life.open(people.contact, signal_id)["state"] == "opened"
    assert life.events(signal_id) == [("sent", 2, None), ("opened", None, None)]
    assert life.holders(signal_id) == contacts(people)


def test_forward_hands_copies_to_the_teachers_and_takes_the_colleagues(
    life: Life, people: School
) -> None:
    signal_id = life.send(people.sender, life.school)
    life.open(people.contact, signal_id)
    assert life.forward(people.contact, signal_id, people.teacher, people.duo) == {
        "state": "forwarded"
    }
    teachers = {people.teacher.device_id, people.teacher_tablet.device_id, people.duo.device_id}
    assert life.holders(signal_id) == {people.contact.device_id} | teachers
    assert life.row(signal_id)["acted_by"] == people.contact.actor.person_id
    assert life.events(signal_id)[-1] == ("forwarded", 2, None)
    assert sorted(life.pushes("teacher_signal")) == sorted(teachers)
    with refused(Conflict, "already_handled"):
        life.forward(people.colleague, signal_id, people.teacher)
    with refused(NotFound, "removed"):  # the colleague's copy went with the forward
        life.open(people.colleague, signal_id)
    assert life.state(signal_id) == "forwarded"


def test_teacher_view_is_one_device_one_grace_period(life: Life, people: School) -> None:
    signal_id = life.send(people.sender, life.school)
    life.forward(people.contact, signal_id, people.teacher, people.duo)
    opened = life.open(people.teacher, signal_id)
    assert opened["delete_at"] == SENT + TIMING.view_grace
    assert opened["state"] == "forwarded"  # the duo has not looked yet
    assert people.teacher_tablet.device_id not in life.holders(signal_id)
    with refused(NotFound, "opened_elsewhere"):
        life.open(people.teacher_tablet, signal_id)
    life.clock.advance(TIMING.view_grace - 1)
    life.open(people.teacher, signal_id)  # a reload within the grace period is served
    assert life.open(people.duo, signal_id)["state"] == "viewed"
    kinds = [kind for kind, _, _ in life.events(signal_id)]
    assert kinds == ["sent", "forwarded", "teacher_viewed", "teacher_viewed", "viewed"]
    assert life.fire(SENT + TIMING.view_grace)["destroyed"] == 1
    with refused(NotFound, "removed"):
        life.open(people.teacher, signal_id)


def test_teacher_done_deletes_the_copy_at_once(life: Life, people: School) -> None:
    signal_id = life.send(people.sender, life.school)
    life.forward(people.contact, signal_id, people.teacher)
    life.open(people.teacher, signal_id)
    done = signals.teacher_done(life.db, people.teacher.actor, signal_id, life.now())
    assert done == {"state": "viewed"}
    assert life.holders(signal_id) == {people.contact.device_id}


def _at_contact(life: Life, people: School) -> str:
    return life.send(people.sender, life.school)


def _forwarded(life: Life, people: School) -> str:
    signal_id = life.send(people.sender, life.school)
    life.forward(people.contact, signal_id, people.teacher)
    return signal_id


CLOSINGS: dict[str, tuple[Callable[[Life, School], str], str]] = {
    "told_in_person": (_at_contact, "closed"),
    "not_our_pupil": (_at_contact, "closed"),
    "done": (_forwarded, "done"),
    "unverifiable": (_at_contact, "closed"),  # its signature did not verify (issue 20)
}


def test_every_close_reason_is_covered() -> None:
    assert set(CLOSINGS) | {"not_in_municipality"} == set(states.CLOSE_RULES)


@pytest.mark.parametrize("reason", sorted(CLOSINGS))
def test_close_ends_the_signal_with_its_reason(life: Life, people: School, reason: str) -> None:
    setup, ended = CLOSINGS[reason]
    signal_id = setup(life, people)
    life.clock.advance(60)
    assert life.close(people.contact, signal_id, reason) == {"state": ended}
    row = life.row(signal_id)
    assert (row["state"], row["close_reason"], row["ended_at"]) == (ended, reason, SENT + 60)
    assert life.events(signal_id)[-1] == (ended, None, reason)
    assert life.holders(signal_id) == set()
    with refused(Conflict, "already_handled"):
        life.close(people.colleague, signal_id, reason)
    with refused(NotFound, "removed"):
        life.open(people.contact, signal_id)


def test_close_refuses_the_wrong_state_and_the_wrong_role(life: Life, people: School) -> None:
    signal_id = life.send(people.sender, life.school)
    with refused(Conflict, "already_handled"):
        life.close(people.contact, signal_id, "done")  # nothing forwarded yet
    with refused(NotFound, "not_found"):  # not the teacher's signal: alike to absent
        life.close(people.teacher, signal_id, "told_in_person")
    assert (life.state(signal_id), life.holders(signal_id)) == ("sent", contacts(people))


def test_leerplicht_relays_or_closes_as_not_in_municipality(life: Life, people: School) -> None:
    officer = life.member("officer", life.leerplicht)
    relayed = life.send(people.sender, life.leerplicht)
    life.open(officer, relayed)
    assert life.relay(officer, relayed, life.school) == {"state": "relayed"}
    assert life.holders(relayed) == contacts(people)
    assert life.row(relayed)["school_id"] == life.school
    assert life.open(people.contact, relayed)["state"] == "opened"
    kinds = [kind for kind, _, _ in life.events(relayed)]
    assert kinds == ["sent", "opened", "relayed", "opened"]

    closed = life.send(people.sender, life.leerplicht)
    assert life.close(officer, closed, "not_in_municipality") == {"state": "closed"}
    assert life.events(closed)[-1] == ("closed", None, "not_in_municipality")
    assert life.holders(closed) == set()


def test_timers_remind_escalate_and_expire_on_the_fake_clock(life: Life, people: School) -> None:
    signal_id = life.send(people.sender, life.school)
    assert life.fire(SENT + TIMING.remind_after - 1)["reminded"] == 0
    assert life.fire(SENT + TIMING.remind_after)["reminded"] == 1
    assert life.fire(DEADLINE)["escalated"] == 1
    assert life.row(signal_id)["escalated_at"] == DEADLINE
    assert life.pushes("escalation") == [people.sender.device_id]
    assert life.fire(EXPIRY - 1)["expired"] == 0
    assert life.state(signal_id) == "sent"
    assert life.fire(EXPIRY)["expired"] == 1
    assert (life.state(signal_id), life.holders(signal_id)) == ("expired", set())
    kinds = [kind for kind, _, _ in life.events(signal_id)]
    assert kinds == ["sent", "reminded", "escalated", "expired"]
    with refused(NotFound, "removed"):
        life.open(people.contact, signal_id)
    assert life.fire(EXPIRY + TIMING.retention)["purged"] >= 1
    assert life.row(signal_id) is None
