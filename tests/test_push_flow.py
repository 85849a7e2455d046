"""Pushes end to end: state change → outbox → worker → a verifying, decrypting push service."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from server import timers
from server.clock import AMSTERDAM, FrozenClock
from tests.conftest import live_world
from tests.fakepush_server import running_fake_push

NAME, BORN = "Xylofoon Quaggazwemmer", "2015-06-01"


def _wait_for(condition: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_signal_and_forward_push_each_device_once_without_content(tmp_path: Path) -> None:
    with running_fake_push() as (_, service), live_world(tmp_path / "p.db", run_workers=True) as w:
        school = w.org()
        sender = w.member("sender", w.org("veilig_thuis", "Veilig Thuis"))
        contact_person = w.person("contact", school)
        contacts = [w.device(contact_person, push=service.subscribe()) for _ in range(2)]
        teacher = w.device(w.person("teacher", school), push=service.subscribe())
        # The second phone waited for the first one's approval: that push came first, neutral.
        asked = _wait_for(lambda: service.messages and service.messages[0])
        assert json.loads(asked["payload"])["kind"] == "device_pending"
        assert json.loads(asked["payload"])["notification"]["title"] == "Nieuw apparaat"
        time.sleep(0.2)
        service.messages.clear()
        sent = w.send(sender, school, NAME, BORN)
        assert sent.status_code == 201
        signal_id = sent.json()["id"]
        messages = _wait_for(lambda: len(service.messages) >= 2 and service.messages)
        time.sleep(0.2)  # nothing more may arrive
        assert len(service.messages) == 2
        assert {m["sub_id"] for m in messages} == {
            json.loads(
                w.db.execute("SELECT push FROM devices WHERE id = ?", [c.device_id]).fetchone()[0]
            )["endpoint"].rsplit("/", 1)[1]
            for c in contacts
        }
        for message in messages:
            body = json.loads(message["payload"])
            assert body["web_push"] == 8030 and body["kind"] == "new_signal"
            assert body["signal_id"] == signal_id
            assert body["notification"]["navigate"] == f"{w.url}/signaal/{signal_id}"
            assert body["notification"]["title"] == "Nieuw signaal"
            assert NAME not in message["payload"] and BORN not in message["payload"]
            assert message["headers"]["Urgency"] == "high"
            assert 0 < int(message["headers"]["TTL"]) <= 7 * 86400
            assert len(message["headers"]["Topic"]) <= 32
        assert len({m["body_length"] for m in messages}) == 1

        contacts[0].open(signal_id)
        forwarded = w.forward(contacts[0], signal_id, school, [teacher.person_id], NAME, BORN)
        assert forwarded.status_code == 200
        teacher_push = _wait_for(lambda: len(service.messages) >= 3 and service.messages[2])
        assert json.loads(teacher_push["payload"])["kind"] == "teacher_signal"
        # Each recipient's pushes carry a Topic of their own: the push service cannot link
        # the contacts and the teacher of one case.
        assert len({m["headers"]["Topic"] for m in service.messages[:3]}) == 3


def test_a_gone_subscription_shows_notifications_off_to_the_admin(tmp_path: Path) -> None:
    with running_fake_push() as (_, service), live_world(tmp_path / "g.db", run_workers=True) as w:
        school = w.org()
        sender = w.member("sender", w.org("veilig_thuis", "Veilig Thuis"))
        subscription = service.subscribe()
        service.set_answers(subscription["endpoint"].rsplit("/", 1)[1], [410])
        contact = w.device(w.person("contact", school, name="Ingrid Bakker"), push=subscription)
        admin = w.member("admin", None)
        before = admin.get(f"/admin/orgs/{school}").text
        assert "meldingen aan" in before and "meldingen uit" not in before
        assert w.send(sender, school, NAME, BORN).status_code == 201
        _wait_for(
            lambda: (
                w.db.execute(
                    "SELECT push_state FROM devices WHERE id = ?", [contact.device_id]
                ).fetchone()[0]
                == "gone"
            )
        )
        assert contact.get("/api/me").json()["device"]["push"] == "gone"
        page = admin.get(f"/admin/orgs/{school}").text
        assert "meldingen uit" in page


def test_timer_pushes_reach_the_push_service(tmp_path: Path) -> None:
    """Escalation at the deadline: the sender's device gets the escalation push and the
    unopened contact a reminder, both delivered by the worker and verified by the service."""
    sent = datetime(2026, 11, 24, 20, 0, tzinfo=AMSTERDAM).timestamp()
    clock = FrozenClock(sent)
    with (
        running_fake_push() as (_, service),
        live_world(tmp_path / "t.db", clock, run_workers=True) as w,
    ):
        school = w.org()
        sender_sub, contact_sub = service.subscribe(), service.subscribe()
        sender = w.device(w.person("sender", w.org("veilig_thuis", "VT")), push=sender_sub)
        w.device(w.person("contact", school), push=contact_sub)
        assert w.send(sender, school, NAME, BORN).status_code == 201
        _wait_for(lambda: len(service.messages) == 1)
        deadline = datetime(2026, 11, 25, 8, 15, tzinfo=AMSTERDAM).timestamp()
        clock.advance(deadline - clock.now())
        fired = timers.run_due(w.db, clock.now(), w.app.state.timing)
        assert fired["escalated"] == 1 and fired["reminded"] == 1
        worker = w.app.state.push_worker
        worker._task.get_loop().call_soon_threadsafe(worker.wake)  # from the test's thread
        _wait_for(lambda: len(service.messages) == 4)
        by_subscription = {}
        for message in service.messages[1:]:
            by_subscription.setdefault(message["sub_id"], []).append(
                json.loads(message["payload"])["kind"]
            )
        sender_id = sender_sub["endpoint"].rsplit("/", 1)[1]
        contact_id = contact_sub["endpoint"].rsplit("/", 1)[1]
        assert by_subscription == {sender_id: ["escalation"], contact_id: ["reminder", "reminder"]}
        assert all(NAME not in m["payload"] for m in service.messages)


def test_the_admin_sees_devices_whose_pushes_have_failed_for_long(tmp_path: Path) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 20, 0, tzinfo=AMSTERDAM).timestamp())
    with (
        running_fake_push() as (_, service),
        live_world(tmp_path / "f.db", clock, run_workers=True) as w,
    ):
        school = w.org()
        sender = w.member("sender", w.org("veilig_thuis", "Veilig Thuis"))
        subscription = service.subscribe()
        sub = subscription["endpoint"].rsplit("/", 1)[1]
        service.set_answers(sub, [503] * 100)  # the push service is down
        contact = w.device(w.person("contact", school, name="Ingrid Bakker"), push=subscription)
        admin = w.member("admin", None)
        assert w.send(sender, school, NAME, BORN).status_code == 201
        _wait_for(
            lambda: w.db.execute(
                "SELECT push_failing_since FROM devices WHERE id = ?", [contact.device_id]
            ).fetchone()[0]
        )
        assert "Meldingen komen niet aan" not in admin.get("/admin").text  # not for long yet

        clock.advance(2 * 3600)
        home = admin.get("/admin").text
        assert "Meldingen komen niet aan" in home and "Ingrid Bakker" in home
        assert "sinds 24-11-2026 20:00" in home
        assert (
            "meldingen mislukken sinds 24-11-2026 20:00" in admin.get(f"/admin/orgs/{school}").text
        )
        assert subscription["endpoint"] not in home  # a capability: never shown

        # The person turns notifications on again: a new subscription starts with a clean
        # slate, and the push that was waiting goes to it.
        renewed = service.subscribe()
        assert contact.http.put("/api/me/push", json={"push": renewed}).status_code == 200
        assert "Meldingen komen niet aan" not in admin.get("/admin").text
        worker = w.app.state.push_worker
        worker._task.get_loop().call_soon_threadsafe(worker.wake)
        _wait_for(lambda: service.messages)
        assert service.messages[0]["sub_id"] == renewed["endpoint"].rsplit("/", 1)[1]
