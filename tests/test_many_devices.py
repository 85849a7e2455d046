"""A signal reaches every receiving device of a school, however many (up to MAX_ENVELOPES):
300 contact devices, then a forward to a teacher with five devices, over real HTTP."""

from __future__ import annotations

import json

from server.auth import RateLimiter
from server.policy import ENVELOPES_BODY_MAX, MAX_ENVELOPES
from tests.support import World, new_signal_id, seal

NAME, BORN = "Xylofoon Quaggazwemmer", "2015-06-01"
CONTACT_DEVICES = 300


def test_a_school_with_300_contact_devices_gets_the_signal_on_every_one(world: World) -> None:
    # 300 enrolments from one test address: far past the per-address limit meant for people.
    world.app.state.limits["enrol_ip"] = RateLimiter(10 * CONTACT_DEVICES, 600)
    school = world.org()
    people = [world.person("contact", school) for _ in range(CONTACT_DEVICES // 2)]
    contacts = [world.device(person) for person in people for _ in range(2)]
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis"))
    teacher_person = world.person("teacher", school)
    teacher_devices = [world.device(teacher_person) for _ in range(5)]

    signal_id = new_signal_id()
    recipients = sender.get(f"/api/schools/{school}/recipients").json()["devices"]
    assert len(recipients) == CONTACT_DEVICES
    body = {
        "id": signal_id,
        "recipient_id": school,
        "envelopes": seal(recipients, signal_id, NAME, BORN),
    }
    assert len(json.dumps(body)) > 64 * 1024  # above the default body limit
    sent = sender.post("/api/signals", json=body)
    assert sent.status_code == 201, sent.text

    for contact in contacts:  # every one of them can open and read it
        assert contact.open(signal_id) == {"name": NAME, "birth_date": BORN}

    forwarded = world.forward(contacts[0], signal_id, school, [teacher_person], NAME, BORN)
    assert forwarded.status_code == 200, forwarded.text
    for device in teacher_devices[:1]:  # the first view deletes the other devices' copies
        assert device.open(signal_id) == {"name": NAME, "birth_date": BORN}
    assert {
        r[0]
        for r in world.db.execute(
            "SELECT device_id FROM envelopes WHERE signal_id = ? AND role = 'teacher'", [signal_id]
        )
    } == {teacher_devices[0].device_id}


def test_the_envelope_routes_have_a_bound(world: World) -> None:
    """Above MAX_ENVELOPES the body is refused by size (413) before it is read; other routes
    keep the default limit."""
    school = world.org()
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis"))
    contact = world.member("contact", school)
    too_big = b" " * (ENVELOPES_BODY_MAX + 1)
    headers = {"Content-Type": "application/json"}
    assert sender.post("/api/signals", content=too_big, headers=headers).status_code == 413
    for path in (
        "/api/signals/AAAAAAAAAAAAAAAAAAAAAA/forward",
        "/api/signals/AAAAAAAAAAAAAAAAAAAAAA/relay",
    ):
        assert contact.post(path, content=too_big, headers=headers).status_code == 413
    default_limit = world.app.state.settings.max_body_bytes
    close = contact.post(
        "/api/signals/AAAAAAAAAAAAAAAAAAAAAA/close",
        content=b" " * (default_limit + 1),
        headers=headers,
    )
    assert close.status_code == 413


def test_more_envelopes_than_the_bound_are_refused(world: World) -> None:
    school = world.org()
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis"))
    contact = world.member("contact", school)
    signal_id = new_signal_id()
    one = seal(
        [
            {
                "device_id": contact.device_id,
                "public_key": sender.get(f"/api/schools/{school}/recipients").json()["devices"][0][
                    "public_key"
                ],
            }
        ],
        signal_id,
        NAME,
        BORN,
    )[0]
    response = sender.post(
        "/api/signals",
        json={"id": signal_id, "recipient_id": school, "envelopes": [one] * (MAX_ENVELOPES + 1)},
    )
    assert response.status_code == 422
