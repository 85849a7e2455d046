"""The leerplicht route: Veilig Thuis → leerplicht office → school, every hop visible."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from server import timers
from server.clock import AMSTERDAM, FrozenClock
from tests.conftest import live_world
from tests.support import Device, World, seal

NAME, BORN = "Xylofoon Quaggazwemmer", "2015-06-01"
SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/x",
    "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
}
SENT = datetime(2026, 11, 24, 20, 0, tzinfo=AMSTERDAM).timestamp()


def _relay(officer: Device, signal_id: str, school_id: str) -> int:
    devices = officer.get(f"/api/schools/{school_id}/recipients").json()["devices"]
    response = officer.post(
        f"/api/signals/{signal_id}/relay",
        json={"school_id": school_id, "envelopes": seal(devices, signal_id, NAME, BORN)},
    )
    return response.status_code


def _setup(w: World) -> dict:
    office = w.org("leerplicht", "Leerplicht Utrecht", municipalities="Utrecht, Nieuwegein")
    school, wrong_school = w.org(), w.org(name="Basisschool Het Anker")
    people = {
        "sender": w.device(
            w.person("sender", w.org("veilig_thuis", "Veilig Thuis")), push=SUBSCRIPTION
        ),
        "officer": w.member("officer", office),
        "officer2": w.member("officer", office),
        "contact": w.member("contact", school),
        "other_contact": w.member("contact", wrong_school),
    }
    sent = w.send(people["sender"], office, NAME, BORN)
    assert sent.status_code == 201, sent.text
    return people | {
        "office": office,
        "school": school,
        "wrong_school": wrong_school,
        "id": sent.json()["id"],
    }


def test_relay_to_school_with_correction(world: World) -> None:
    s = _setup(world)
    found = s["sender"].get("/api/schools", params={"q": "Nieuwegein", "kind": "leerplicht"})
    assert [o["id"] for o in found.json()] == [s["office"]]
    assert s["officer"].open(s["id"]) == {"name": NAME, "birth_date": BORN}
    assert _relay(s["officer"], s["id"], s["wrong_school"]) == 200
    # The officers' copies are gone at once.
    assert s["officer2"].post(f"/api/signals/{s['id']}/open").status_code == 404
    # Only the officer who relayed may correct, and only until the school opens it.
    assert _relay(s["officer2"], s["id"], s["school"]) == 409
    assert _relay(s["officer"], s["id"], s["school"]) == 200
    assert s["other_contact"].post(f"/api/signals/{s['id']}/open").status_code == 404
    assert s["contact"].open(s["id"])["name"] == NAME
    assert _relay(s["officer"], s["id"], s["wrong_school"]) == 409
    timeline = s["sender"].get("/api/signals").json()[0]["timeline"]
    assert [e["kind"] for e in timeline] == ["sent", "opened", "relayed", "relayed", "opened"]
    officer_view = s["officer"].get("/api/signals").json()
    assert [v["state"] for v in officer_view if v["id"] == s["id"]] == ["opened"]


def test_not_in_municipality_is_seen_by_the_sender(world: World) -> None:
    s = _setup(world)
    closed = s["officer"].post(
        f"/api/signals/{s['id']}/close", json={"reason": "not_in_municipality"}
    )
    assert closed.status_code == 200
    listed = s["sender"].get("/api/signals").json()[0]
    assert (listed["state"], listed["close_reason"]) == ("closed", "not_in_municipality")
    assert world.db.execute("SELECT count(*) FROM envelopes").fetchone()[0] == 0


def test_late_relay_alerts_officers_and_sender(tmp_path: Path) -> None:
    clock = FrozenClock(SENT)
    with live_world(tmp_path / "l.db", clock) as w:
        s = _setup(w)
        timing = w.app.state.timing
        clock.advance(timing.relay_remind_after)
        assert timers.run_due(w.db, clock.now(), timing)["reminded"] == 1
        kinds = {r[0] for r in w.db.execute("SELECT kind FROM outbox").fetchall()}
        assert "escalation" in kinds
        escalated_to = w.db.execute("SELECT device_id FROM outbox WHERE kind = 'escalation'")
        assert [r[0] for r in escalated_to.fetchall()] == [s["sender"].device_id]
        timeline = [e["kind"] for e in s["sender"].get("/api/signals").json()[0]["timeline"]]
        assert timeline == ["sent", "reminded", "relay_late"]
