"""Two people (or two devices) acting on one signal at the same moment: exactly one wins.

Real HTTP against the served app; the two requests leave two threads released by one barrier,
each over its own pre-opened connection.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from server.auth import RateLimiter
from server.envelope import b64u_encode
from tests.conftest import live_world
from tests.support import Device, World, seal

NAME, BORN = "Xylofoon Quaggazwemmer", "2013-07-19"
RUNS = 100


class Race:
    """Fire calls at once: each waits at a barrier on its own thread, then sends."""

    def __init__(self, width: int = 2) -> None:
        self.pool = ThreadPoolExecutor(max_workers=width)
        self.width = width

    def __call__(self, *calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
        assert len(calls) == self.width
        barrier = threading.Barrier(self.width, timeout=10)

        def go(call: Callable[[], httpx.Response]) -> httpx.Response:
            barrier.wait()
            return call()

        futures = [self.pool.submit(go, call) for call in calls]
        return [f.result(timeout=30) for f in futures]

    def close(self) -> None:
        self.pool.shutdown()


@pytest.fixture(scope="module")
def race() -> Iterator[Race]:
    r = Race()
    yield r
    r.close()


@pytest.fixture
def busy_world(db_path: Path) -> Iterator[World]:
    """A served app whose per-device limits do not count: these tests open hundreds of times."""
    with live_world(db_path) as world:
        for name, limiter in list(world.app.state.limits.items()):
            world.app.state.limits[name] = RateLimiter(10**9, limiter.window)
        yield world


def dutch_conflict(response: httpx.Response) -> dict:
    assert response.status_code == 409, response.text
    body = response.json()
    assert set(body) == {"error", "message", "state"}
    assert body["error"] == "already_handled"
    assert re.search(r"\b(collega|al|intussen)\b", body["message"]), body["message"]
    return dict(body)


def send(world: World, sender: Device, to: str) -> str:
    response = world.send(sender, to, NAME, BORN)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def envelopes_of(world: World, signal_id: str) -> dict[str, str]:
    rows = world.db.execute(
        "SELECT device_id, role FROM envelopes WHERE signal_id = ?", [signal_id]
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def state_of(world: World, signal_id: str) -> str:
    return str(
        world.db.execute("SELECT state FROM signals WHERE id = ?", [signal_id]).fetchone()[0]
    )


def test_one_teachers_two_devices_open_at_once(busy_world: World, race: Race) -> None:
    w = busy_world
    school = w.org()
    sender = w.member("sender", w.org("veilig_thuis", "Veilig Thuis"))
    contact = w.member("contact", school)
    phone = w.member("teacher", school, class_label="groep 8")
    tablet = w.device(phone.person_id)
    devices = [
        {"device_id": d.device_id, "public_key": b64u_encode(d.public_key)} for d in (phone, tablet)
    ]
    wins = {phone.device_id: 0, tablet.device_id: 0}
    for _ in range(RUNS):
        signal_id = send(w, sender, school)
        forwarded = contact.post(
            f"/api/signals/{signal_id}/forward",
            json={"teachers": [phone.person_id], "envelopes": seal(devices, signal_id, NAME, BORN)},
        )
        assert forwarded.status_code == 200, forwarded.text
        answers = race(
            lambda s=signal_id: phone.post(f"/api/signals/{s}/open"),
            lambda s=signal_id: tablet.post(f"/api/signals/{s}/open"),
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 404], [a.text for a in answers]
        winner = (phone, tablet)[[a.status_code for a in answers].index(200)]
        loser_answer = answers[[a.status_code for a in answers].index(404)]
        assert loser_answer.json()["error"] == "opened_elsewhere"  # on the winner, as it says
        wins[winner.device_id] += 1
        # Only the winner's copy is left (for its grace period), and it opens.
        assert envelopes_of(w, signal_id) == {
            winner.device_id: "teacher",
            contact.device_id: "contact",
        }
        assert winner.open(signal_id) == {"name": NAME, "birth_date": BORN}
        assert state_of(w, signal_id) == "viewed"
        done = winner.post(f"/api/signals/{signal_id}/done")
        assert done.status_code == 200
        assert (
            contact.post(f"/api/signals/{signal_id}/close", json={"reason": "done"}).status_code
            == 200
        )
    assert sum(wins.values()) == RUNS


@pytest.mark.parametrize(
    "first_act, second_act",
    [
        ("forward", "close"),
        ("forward", "forward"),
        ("close", "close"),
        ("close", "not_our_pupil"),
    ],
)
def test_two_contacts_act_at_once(
    busy_world: World, race: Race, first_act: str, second_act: str
) -> None:
    w = busy_world
    school = w.org()
    sender = w.member("sender", w.org("veilig_thuis", "Veilig Thuis"))
    contacts = [w.member("contact", school), w.member("contact", school)]
    teacher = w.member("teacher", school)
    teacher_devices = [
        {"device_id": teacher.device_id, "public_key": b64u_encode(teacher.public_key)}
    ]
    runs = RUNS if (first_act, second_act) == ("forward", "close") else RUNS // 4
    winners = {0: 0, 1: 0}

    def act(contact: Device, what: str, signal_id: str) -> Callable[[], httpx.Response]:
        if what == "forward":
            body = {
                "teachers": [teacher.person_id],
                "envelopes": seal(teacher_devices, signal_id, NAME, BORN),
            }
            return lambda: contact.post(f"/api/signals/{signal_id}/forward", json=body)
        reason = "told_in_person" if what == "close" else what
        return lambda: contact.post(f"/api/signals/{signal_id}/close", json={"reason": reason})

    for _ in range(runs):
        signal_id = send(w, sender, school)
        answers = race(
            act(contacts[0], first_act, signal_id), act(contacts[1], second_act, signal_id)
        )
        statuses = [a.status_code for a in answers]
        assert sorted(statuses) == [200, 409], [a.text for a in answers]
        won = statuses.index(200)
        winners[won] += 1
        final = state_of(w, signal_id)
        assert answers[won].json() == {"state": final}
        assert dutch_conflict(answers[1 - won])["state"] == final
        if final == "forwarded":
            # The winner keeps their copy to phone the parents; the colleague's is gone.
            assert envelopes_of(w, signal_id) == {
                contacts[won].device_id: "contact",
                teacher.device_id: "teacher",
            }
        else:
            assert final == "closed"
            assert envelopes_of(w, signal_id) == {}
            assert (
                w.db.execute(
                    "SELECT count(*) FROM signal_teachers WHERE signal_id = ?", [signal_id]
                ).fetchone()[0]
                == 0
            )
        events = [
            r[0]
            for r in w.db.execute(
                "SELECT kind FROM signal_events WHERE signal_id = ? ORDER BY rowid", [signal_id]
            ).fetchall()
        ]
        assert events == ["sent", final]
    assert sum(winners.values()) == runs


def test_two_officers_relay_at_once(busy_world: World, race: Race) -> None:
    w = busy_world
    school = w.org()
    office = w.org("leerplicht", "Leerplicht Amersfoort")
    sender = w.member("sender", w.org("veilig_thuis", "Veilig Thuis"))
    officers = [w.member("officer", office), w.member("officer", office)]
    contact = w.member("contact", school)
    recipients = officers[0].get(f"/api/schools/{school}/recipients").json()["devices"]
    for _ in range(RUNS // 2):
        signal_id = send(w, sender, office)
        assert set(envelopes_of(w, signal_id)) == {o.device_id for o in officers}
        bodies = [
            {"school_id": school, "envelopes": seal(recipients, signal_id, NAME, BORN)}
            for _ in officers
        ]
        answers = race(
            *(
                lambda o=o, s=signal_id, b=b: o.post(f"/api/signals/{s}/relay", json=b)
                for o, b in zip(officers, bodies, strict=True)
            )
        )
        statuses = [a.status_code for a in answers]
        # The loser learns that a colleague relayed it, with the current state (409).
        assert sorted(statuses) == [200, 409], [a.text for a in answers]
        won = statuses.index(200)
        assert answers[won].json() == {"state": "relayed"}
        assert answers[1 - won].json()["error"] == "already_handled"
        assert answers[1 - won].json()["state"] == "relayed"
        # The officers' copies are gone; the school's contact holds the winner's envelope.
        assert envelopes_of(w, signal_id) == {contact.device_id: "contact"}
        assert contact.open(signal_id) == {"name": NAME, "birth_date": BORN}
        acted_by = w.db.execute(
            "SELECT acted_by FROM signals WHERE id = ?", [signal_id]
        ).fetchone()[0]
        assert acted_by == officers[won].person_id


def test_officer_relaying_second_learns_a_colleague_did(busy_world: World) -> None:
    w = busy_world
    school, office = w.org(), w.org("leerplicht", "Leerplicht Amersfoort")
    sender = w.member("sender", w.org("veilig_thuis", "Veilig Thuis"))
    first, second = w.member("officer", office), w.member("officer", office)
    w.member("contact", school)
    signal_id = send(w, sender, office)
    recipients = first.get(f"/api/schools/{school}/recipients").json()["devices"]
    body = {"school_id": school, "envelopes": seal(recipients, signal_id, NAME, BORN)}
    assert first.post(f"/api/signals/{signal_id}/relay", json=body).status_code == 200
    late = second.post(f"/api/signals/{signal_id}/relay", json=body)
    assert dutch_conflict(late)["state"] == "relayed"
