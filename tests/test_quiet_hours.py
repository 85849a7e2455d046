"""Quiet hours with the fake clock: pushes to schools wait for the morning, reminders count only
school-day time outside quiet hours, escalations to the sender never wait, and a push that
would come too close to the deadline goes at once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from server import timers
from server.clock import AMSTERDAM, FrozenClock
from tests.conftest import live_world
from tests.support import Device, World
from tests.test_timers import SUBSCRIPTION

NAME, BORN = "Xylofoon Quaggazwemmer", "2015-06-01"


def at(month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=AMSTERDAM).timestamp()


def _people(w: World, school: str) -> dict[str, Device]:
    vt = w.org("veilig_thuis", "Veilig Thuis")
    return {
        "sender": w.device(w.person("sender", vt), push=SUBSCRIPTION),
        "contact": w.device(w.person("contact", school), push=SUBSCRIPTION),
    }


def _due(w: World, kind: str) -> dict[str, float]:
    rows = w.db.execute("SELECT device_id, due_at FROM outbox WHERE kind = ?", [kind])
    return {r[0]: r[1] for r in rows.fetchall()}


def _send(w: World, people: dict[str, Device], school: str) -> str:
    sent = w.send(people["sender"], school, NAME, BORN)
    assert sent.status_code == 201, sent.text
    return str(sent.json()["id"])


def _fire(w: World, clock: FrozenClock, moment: float) -> dict[str, int]:
    clock.advance(moment - clock.now())
    return timers.run_due(w.db, clock.now(), w.app.state.timing)


def _quiet(device: Device, hours: Any) -> None:
    response = device.http.put("/api/me/quiet", json={"quiet_hours": hours})
    assert response.status_code == 200, response.text
    assert response.json()["device"]["quiet_hours"] == hours


def test_a_night_signal_waits_for_the_morning_and_is_reminded_after_it(db_path: Path) -> None:
    clock = FrozenClock(at(11, 24, 23))  # Tuesday 23:00; deadline Wednesday 08:15
    with live_world(db_path, clock) as w:
        school = w.org()
        people = _people(w, school)
        always = w.device(w.person("contact", school), push=SUBSCRIPTION)
        _quiet(always, "off")  # "altijd direct"
        late_riser = w.device(w.person("contact", school), push=SUBSCRIPTION)
        _quiet(late_riser, "22:00-07:00")
        listed = people["sender"].get(f"/api/schools/{school}/recipients").json()
        assert datetime.fromisoformat(listed["notify_at"]).timestamp() == at(11, 24, 23)
        _quiet(always, None)  # back to the default: the sender is told 06:30
        listed = people["sender"].get(f"/api/schools/{school}/recipients").json()
        assert datetime.fromisoformat(listed["notify_at"]).timestamp() == at(11, 25, 6, 30)
        _quiet(always, "off")
        _send(w, people, school)
        assert _due(w, "new_signal") == {
            people["contact"].device_id: at(11, 25, 6, 30),
            always.device_id: at(11, 24, 23),
            late_riser.device_id: at(11, 25, 7),
        }
        # Not at 23:30, nor at any moment of the night: 30 minutes of the morning first.
        assert _fire(w, clock, at(11, 24, 23, 30))["reminded"] == 0
        assert timers.next_due(w.db, w.app.state.timing) == at(11, 25, 7)
        assert _fire(w, clock, at(11, 25, 6, 59))["reminded"] == 0
        assert _fire(w, clock, at(11, 25, 7))["reminded"] == 1
        reminders = _due(w, "reminder")
        assert reminders[people["contact"].device_id] == at(11, 25, 7)
        assert reminders[late_riser.device_id] == at(11, 25, 7)


def test_reminders_skip_the_weekend_and_the_schools_free_days(db_path: Path) -> None:
    clock = FrozenClock(at(11, 27, 20, 50))  # Friday 20:50, ten minutes before quiet hours
    with live_world(db_path, clock) as w:
        school = w.org()
        admin = w.member("admin", None)
        free = admin.post(f"/api/admin/orgs/{school}/free-days", json={"from": "2026-11-30"})
        assert free.status_code == 201  # Monday is a study day
        people = _people(w, school)
        _send(w, people, school)
        assert _due(w, "new_signal") == {people["contact"].device_id: at(11, 27, 20, 50)}
        # 10 minutes on Friday evening, then 20 minutes of Tuesday morning.
        assert timers.next_due(w.db, w.app.state.timing) == at(12, 1, 6, 50)
        for moment in (at(11, 27, 21), at(11, 28, 10), at(11, 29, 12), at(11, 30, 10)):
            assert _fire(w, clock, moment)["reminded"] == 0
        assert _fire(w, clock, at(12, 1, 6, 50))["reminded"] == 1


def test_escalations_to_the_sender_never_wait(db_path: Path) -> None:
    clock = FrozenClock(at(11, 24, 20))  # Tuesday 20:00; deadline Wednesday 08:15
    with live_world(db_path, clock) as w:
        school = w.org()
        people = _people(w, school)
        _quiet(people["sender"], "06:00-09:00")
        _quiet(people["contact"], "06:00-09:00")
        _send(w, people, school)
        assert _fire(w, clock, at(11, 25, 8, 15))["escalated"] == 1
        # The sender's own quiet hours do not hold an escalation; past the deadline the
        # contact's reminder does not wait either.
        assert _due(w, "escalation") == {people["sender"].device_id: at(11, 25, 8, 15)}
        assert at(11, 25, 8, 15) in _due(w, "reminder").values()


def test_a_push_that_would_come_too_close_to_the_deadline_goes_at_once(db_path: Path) -> None:
    # School starts at 07:00: waiting until 06:30 would leave 30 minutes, less than 45.
    clock = FrozenClock(at(11, 24, 23))
    with live_world(db_path, clock, school_start="07:00") as w:
        school = w.org()
        people = _people(w, school)
        _send(w, people, school)
        assert _due(w, "new_signal") == {people["contact"].device_id: at(11, 24, 23)}
    with live_world(db_path.with_name("other.db"), FrozenClock(at(11, 24, 23))) as w:
        school = w.org()
        people = _people(w, school)
        _quiet(people["contact"], "21:00-07:45")  # 30 minutes before 08:15: at once too
        _send(w, people, school)
        assert _due(w, "new_signal") == {people["contact"].device_id: at(11, 24, 23)}
        refused = people["contact"].http.put("/api/me/quiet", json={"quiet_hours": "7:00-8"})
        assert refused.status_code == 422
        assert (
            people["contact"]
            .http.put("/api/me/quiet", json={"quiet_hours": "07:00-07:00"})
            .status_code
            == 422
        )
