"""Timers with an injected clock: each fires once, at the right moment, across a restart."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from server import timers
from server.calendar import Timing as CalendarTiming
from server.calendar import signal_times
from server.clock import AMSTERDAM, FrozenClock
from server.signals import org_calendar
from tests.conftest import live_world
from tests.support import World

NAME, BORN = "Xylofoon Quaggazwemmer", "2015-06-01"
SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/x",
    "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
}
# Tuesday 24 November 2026, 20:00 in Amsterdam: the deadline is Wednesday 08:15.
SENT = datetime(2026, 11, 24, 20, 0, tzinfo=AMSTERDAM).timestamp()
DEADLINE = datetime(2026, 11, 25, 8, 15, tzinfo=AMSTERDAM).timestamp()
EXPIRY = datetime(2026, 11, 25, 17, 0, tzinfo=AMSTERDAM).timestamp()


def _setup(w: World) -> dict:
    school = w.org()
    vt = w.org("veilig_thuis", "Veilig Thuis")
    sender = w.device(w.person("sender", vt), push=SUBSCRIPTION)
    contact = w.device(w.person("contact", school), push=SUBSCRIPTION)
    teacher = w.device(w.person("teacher", school), push=SUBSCRIPTION)
    sent = w.send(sender, school, NAME, BORN)
    assert sent.status_code == 201, sent.text
    return {
        "school": school,
        "sender": sender,
        "contact": contact,
        "teacher": teacher,
        "id": sent.json()["id"],
    }


def _pushes(w: World, kind: str) -> list[str]:
    rows = w.db.execute("SELECT device_id FROM outbox WHERE kind = ? ORDER BY id", [kind])
    return [r[0] for r in rows.fetchall()]


def _fire(w: World, clock: FrozenClock, at: float) -> dict[str, int]:
    clock.advance(at - clock.now())
    return timers.run_due(w.db, clock.now(), w.app.state.timing)


def test_deadline_and_expiry_follow_the_calendar(db_path: Path) -> None:
    with live_world(db_path, FrozenClock(SENT)) as w:
        s = _setup(w)
        row = w.db.execute("SELECT deadline_at, expires_at FROM signals").fetchone()
        assert (row[0], row[1]) == (DEADLINE, EXPIRY)
        listed = s["sender"].get("/api/signals").json()[0]
        assert listed["deadline"].startswith("2026-11-25T07:15")  # 08:15 Amsterdam, in UTC


def test_reminder_escalation_and_expiry_fire_once(db_path: Path) -> None:
    clock = FrozenClock(SENT)
    with live_world(db_path, clock) as w:
        s = _setup(w)
        timing = w.app.state.timing
        assert _fire(w, clock, SENT + timing.remind_after - 1)["reminded"] == 0
        assert _fire(w, clock, SENT + timing.remind_after)["reminded"] == 1
        assert _pushes(w, "reminder") == [s["contact"].device_id]
        assert _fire(w, clock, SENT + timing.remind_after + 60)["reminded"] == 0

        assert _fire(w, clock, DEADLINE - 1)["escalated"] == 0
        assert _fire(w, clock, DEADLINE)["escalated"] == 1
        assert _pushes(w, "escalation") == [s["sender"].device_id]
        assert _pushes(w, "reminder") == [s["contact"].device_id] * 2
        assert s["sender"].get("/api/signals").json()[0]["escalated"] is True
        assert _fire(w, clock, DEADLINE + 60)["escalated"] == 0

        assert _fire(w, clock, EXPIRY)["expired"] == 1
        assert w.db.execute("SELECT count(*) FROM envelopes").fetchone()[0] == 0
        assert s["contact"].post(f"/api/signals/{s['id']}/open").status_code == 404
        kinds = [e["kind"] for e in s["sender"].get("/api/signals").json()[0]["timeline"]]
        assert kinds == ["sent", "reminded", "escalated", "expired"]
        assert _fire(w, clock, EXPIRY + 60)["expired"] == 0


def test_teacher_late_and_self_destruct(db_path: Path) -> None:
    clock = FrozenClock(SENT)
    with live_world(db_path, clock) as w:
        s = _setup(w)
        s["contact"].open(s["id"])
        forwarded = w.forward(
            s["contact"], s["id"], s["school"], [s["teacher"].person_id], NAME, BORN
        )
        assert forwarded.status_code == 200
        assert _fire(w, clock, DEADLINE)["teacher_late"] == 1
        assert _pushes(w, "teacher_late") == [s["contact"].device_id]
        assert s["teacher"].open(s["id"])["name"] == NAME
        grace = w.app.state.timing.view_grace
        assert _fire(w, clock, clock.now() + grace - 1)["destroyed"] == 0
        assert _fire(w, clock, clock.now() + 1)["destroyed"] == 1
        assert s["teacher"].post(f"/api/signals/{s['id']}/open").status_code == 404


def test_timers_fire_once_across_a_restart(db_path: Path) -> None:
    clock = FrozenClock(SENT)
    with live_world(db_path, clock) as w:
        _setup(w)
        assert _fire(w, clock, DEADLINE)["escalated"] == 1
    with live_world(db_path, clock) as w:
        assert _fire(w, clock, DEADLINE + 3600)["escalated"] == 0
        assert len(_pushes(w, "escalation")) == 1


def test_purge_removes_status_rows_and_truncates_the_wal(db_path: Path) -> None:
    clock = FrozenClock(SENT)
    with live_world(db_path, clock) as w:
        s = _setup(w)
        envelope = w.db.execute("SELECT envelope FROM envelopes").fetchone()[0]
        ciphertext = envelope.split('"ct":"')[1].split('"')[0].encode()
        _fire(w, clock, EXPIRY)
        retention = w.app.state.timing.retention
        assert _fire(w, clock, EXPIRY + retention)["purged"] >= 1
        wal = Path(f"{db_path}-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        assert ciphertext not in db_path.read_bytes()
        assert s["id"].encode() not in db_path.read_bytes()
        assert w.db.execute("SELECT count(*) FROM signals").fetchone()[0] == 0
        assert s["sender"].get("/api/signals").json() == []


def test_next_due_is_computed_from_the_rows(db_path: Path) -> None:
    clock = FrozenClock(SENT)
    with live_world(db_path, clock) as w:
        assert timers.next_due(w.db, w.app.state.timing) is None
        _setup(w)
        timing = w.app.state.timing
        assert timers.next_due(w.db, timing) == SENT + timing.remind_after
        _fire(w, clock, SENT + timing.remind_after)
        assert timers.next_due(w.db, timing) == DEADLINE


def test_free_days_entered_by_the_admin_move_the_deadline(world: World) -> None:
    school = world.org(code="FREE01")
    admin = world.member("admin", None)
    # Wednesday 13 May 2026 20:00 → Friday 15 May 08:15, or Monday 18 May with 15 May free.
    added = admin.post(f"/api/admin/orgs/{school}/free-days", json={"from": "2026-05-15"})
    assert (added.status_code, added.json()) == (201, {"added": 1})
    assert org_calendar(world.db, school).free_days == frozenset({date(2026, 5, 15)})
    sent = datetime(2026, 5, 13, 20, 0, tzinfo=AMSTERDAM)
    deadline = signal_times(sent, org_calendar(world.db, school), CalendarTiming()).deadline
    assert deadline == datetime(2026, 5, 18, 8, 15, tzinfo=AMSTERDAM)
    imported = admin.post(
        "/api/admin/free-days/import", json={"csv": "code,from,to\nFREE01,2031-06-02,2031-06-04\n"}
    )
    assert imported.json() == {"added": 3}
    refused = admin.post(
        "/api/admin/free-days/import", json={"csv": "code,from,to\nNOPE99,2026-06-01,\n"}
    )
    assert refused.status_code == 422 and "NOPE99" in refused.json()["message"]
    page = admin.get(f"/admin/orgs/{school}")
    assert "2031-06-03" in page.text


def test_next_due_and_firing_come_from_one_table(db_path: Path) -> None:
    """Walk a signal's life from due moment to due moment: just before `next_due` nothing
    fires, at it something does, so the scheduler neither sleeps past a timer nor spins."""
    clock = FrozenClock(SENT)
    with live_world(db_path, clock) as w:
        s = _setup(w)
        second = _setup(w)  # forwarded, then opened by the teacher: self-destruct and expiry
        second["contact"].open(second["id"])
        forwarded = w.forward(
            second["contact"],
            second["id"],
            second["school"],
            [second["teacher"].person_id],
            NAME,
            BORN,
        )
        assert forwarded.status_code == 200
        w.db.execute(
            "UPDATE devices SET revoked_at = ? WHERE id = ?", [SENT, s["sender"].device_id]
        )
        timing = w.app.state.timing
        fired_names: set[str] = set()
        while (due := timers.next_due(w.db, timing)) is not None:
            if due - 1 > clock.now():
                assert not any(_fire(w, clock, due - 1).values()), due
            fired = _fire(w, clock, max(due, clock.now()))
            assert any(fired.values()), due
            if fired["teacher_late"]:
                second["teacher"].open(second["id"])  # starts the self-destruct
            fired_names |= {name for name, count in fired.items() if count}
        assert fired_names == {t.name for t in timers.TIMERS}  # every timer had its turn
