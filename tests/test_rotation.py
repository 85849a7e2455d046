"""Device key rotation on the server (issue 20 item 4): POST /api/me/devices/{id}/key appends a
`key_rotated` entry signed by the device itself and replaces its key, so senders seal to the
newest; GET /api/me/old-keys tells the device when no live envelope needs an old key."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import keylog, orglog, timers
from server.clock import FrozenClock
from server.envelope import (
    b64u_decode,
    b64u_encode,
    decode_content,
    decrypt_envelope,
    generate_device_key,
    load_private_key_raw,
)
from tests.conftest import live_world
from tests.support import Device, World

NAME, BORN = "Fleur de Boer", "2016-04-04"
START = 1_795_000_000.0  # a Thursday in November 2026


def rotation(world: World, device: Device, enc_key: str, signer: Device | None = None) -> dict:
    org = world.db.execute("SELECT org_id FROM people WHERE id = ?", [device.person_id]).fetchone()[
        0
    ]
    statement = keylog.rotation_statement(org, device.person_id, device.device_id, enc_key)
    return {"enc_key": enc_key, "signature": keylog.sign((signer or device).sig_private, statement)}


def rotate(world: World, device: Device, target: str | None = None, **kw: Any) -> httpx.Response:
    """Make a new key for `device` and announce it; on success the test's device holds it."""
    private_key, public_key = generate_device_key()
    body = rotation(world, device, b64u_encode(public_key), kw.pop("signer", None))
    response = device.post(f"/api/me/devices/{target or device.device_id}/key", body)
    if response.status_code == 200:
        device.private_key, device.public_key = private_key, public_key
    return response


@pytest.fixture
def school(world: World) -> dict[str, Any]:
    school_id = world.org()
    vt = world.org("veilig_thuis", "Veilig Thuis Test")
    return {
        "id": school_id,
        "contact": world.member("contact", school_id),
        "sender": world.member("sender", vt),
    }


def test_a_rotated_key_is_the_one_senders_seal_to(world: World, school: dict) -> None:
    contact, old_key = school["contact"], b64u_encode(school["contact"].public_key)
    response = rotate(world, contact)
    assert response.status_code == 200, response.text
    new_key = response.json()["enc_key"]
    assert new_key != old_key
    assert contact.get("/api/me").json()["device"]["public_key"] == new_key
    listed = school["sender"].get(f"/api/schools/{school['id']}/recipients").json()["devices"]
    assert listed == [{"device_id": contact.device_id, "public_key": new_key}]
    log = world.client().get(f"/api/orgs/{school['id']}/log").json()
    state = keylog.verify_log(
        keylog.public_b64u(world.app.state.log_key), school["id"], log["entries"], log["head"]
    )
    assert log["entries"][-1]["kind"] == "key_rotated"
    assert log["entries"][-1]["by"] == f"device:{contact.device_id}"
    assert keylog.recipients(state, ["contact"]) == [{"id": contact.device_id, "enc_key": new_key}]
    sent = world.send(school["sender"], school["id"], NAME, BORN)
    assert sent.status_code == 201, sent.text
    assert contact.open(sent.json()["id"]) == {"name": NAME, "birth_date": BORN}


def test_a_wrong_signature_is_refused(world: World, school: dict) -> None:
    contact = school["contact"]
    sibling = world.device(contact.person_id)
    before = contact.get("/api/me").json()["device"]["public_key"]
    response = rotate(world, contact, signer=sibling)  # the sibling's key, not the device's own
    assert (response.status_code, response.json()["error"]) == (422, "bad_rotation")
    assert contact.get("/api/me").json()["device"]["public_key"] == before
    kinds = [
        e["kind"] for e in world.client().get(f"/api/orgs/{school['id']}/log").json()["entries"]
    ]
    assert "key_rotated" not in kinds


def test_only_the_device_itself_rotates_its_key(world: World, school: dict) -> None:
    contact = school["contact"]
    sibling = world.device(contact.person_id)
    # The sibling's own signature over a key for the sibling, posted by another device.
    private_key, public_key = generate_device_key()
    body = rotation(world, sibling, b64u_encode(public_key))
    response = contact.post(f"/api/me/devices/{sibling.device_id}/key", body)
    assert (response.status_code, response.json()["error"]) == (403, "not_own_device")
    other = school["sender"]
    response = other.post(f"/api/me/devices/{contact.device_id}/key", body)
    assert (response.status_code, response.json()["error"]) == (403, "not_own_device")
    assert sibling.get("/api/me").json()["device"]["public_key"] == b64u_encode(sibling.public_key)


def test_a_key_seen_before_is_refused(world: World, school: dict) -> None:
    contact, first = school["contact"], b64u_encode(school["contact"].public_key)
    assert rotate(world, contact).status_code == 200
    back = contact.post(f"/api/me/devices/{contact.device_id}/key", rotation(world, contact, first))
    assert (back.status_code, back.json()["error"]) == (409, "key_reused")
    # A key of another organisation's device: the devices table holds each key once.
    theirs = b64u_encode(school["sender"].public_key)
    taken = contact.post(
        f"/api/me/devices/{contact.device_id}/key", rotation(world, contact, theirs)
    )
    assert (taken.status_code, taken.json()["error"]) == (409, "key_reused")
    body = {**rotation(world, contact, first), "extra": 1}
    strict = contact.post(f"/api/me/devices/{contact.device_id}/key", body)
    assert strict.status_code == 422


def test_a_device_without_signing_key_cannot_rotate(world: World, school: dict) -> None:
    contact = school["contact"]
    # A device enrolled before signing keys: migrated into the log with an empty sig_key.
    world.db.execute("DELETE FROM keylog WHERE org_id = ?", [school["id"]])
    world.db.execute("UPDATE devices SET sig_key = NULL WHERE id = ?", [contact.device_id])
    world.db.execute("DELETE FROM meta WHERE key = ?", [orglog.GENESIS_DONE])
    orglog.ensure_genesis(world.db, world.now())
    response = rotate(world, contact)
    assert (response.status_code, response.json()["error"]) == (409, "no_signing_key")
    assert "ondertekensleutel" in response.json()["message"]


def same_moment(a: str, b: str) -> bool:
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


def _expire_all(w: World, clock: FrozenClock) -> None:
    until = w.db.execute("SELECT max(expires_at) FROM signals").fetchone()[0]
    clock.advance(until + 1 - clock.now())
    timers.run_due(w.db, clock.now(), w.app.state.timing)


def test_an_old_key_is_needed_until_its_last_envelope_expires(db_path: Path) -> None:
    clock = FrozenClock(START)
    with live_world(db_path, clock) as w:
        school, vt = w.org(), w.org("veilig_thuis", "Veilig Thuis Test")
        contact, sender = w.member("contact", school), w.member("sender", vt)
        assert contact.get("/api/me/old-keys").json() == {"keys": []}
        before = w.send(sender, school, NAME, BORN).json()
        old_private, old_key = contact.private_key, b64u_encode(contact.public_key)
        clock.advance(3600)  # past the race margin
        assert rotate(w, contact).status_code == 200
        after = w.send(sender, school, NAME, BORN).json()
        keys = contact.get("/api/me/old-keys").json()["keys"]
        assert [k["enc_key"] for k in keys] == [old_key]
        assert same_moment(keys[0]["needed_until"], before["expires_at"])
        # The envelope sealed before opens with the old private key only; the later one with
        # the new key only.
        envelope = contact.post(f"/api/signals/{before['id']}/open").json()["envelope"]
        content = decrypt_envelope(old_private, before["id"], contact.device_id, envelope)
        assert decode_content(content)["name"] == NAME
        assert contact.open(after["id"])["name"] == NAME
        _expire_all(w, clock)
        keys = contact.get("/api/me/old-keys").json()["keys"]
        assert keys == [{**keys[0], "needed_until": None}]
        clock.advance(8 * 86400)  # beyond any signal's life: no longer listed at all
        assert contact.get("/api/me/old-keys").json() == {"keys": []}


def test_an_envelope_stored_just_after_a_rotation_keeps_the_old_key(db_path: Path) -> None:
    """A sender's list fetched before the rotation may seal to the old key just after it."""
    clock = FrozenClock(START)
    with live_world(db_path, clock) as w:
        school, vt = w.org(), w.org("veilig_thuis", "Veilig Thuis Test")
        contact, sender = w.member("contact", school), w.member("sender", vt)
        assert rotate(w, contact).status_code == 200
        clock.advance(60)
        late = w.send(sender, school, NAME, BORN).json()
        keys = contact.get("/api/me/old-keys").json()["keys"]
        assert same_moment(keys[0]["needed_until"], late["expires_at"])


# --- the envelope vectors "rotated key" and "old key after deletion" -----------------------

ROTATION = json.loads(
    (Path(__file__).parent / "vectors" / "envelope-rotation.json").read_text(encoding="utf-8")
)


def test_the_rotation_vectors_are_what_the_script_makes() -> None:
    from tests.vectors.make_vectors import build_rotation

    assert build_rotation() == ROTATION


@pytest.mark.parametrize("vector", ROTATION["vectors"], ids=lambda v: v["description"])
def test_a_rotation_vector_opens_with_its_kept_key_or_none(vector: dict) -> None:
    from tests.vectors.make_vectors import kept_opener

    assert kept_opener(vector) == vector["opens_with"]
    if vector["opens_with"] is not None:
        key = load_private_key_raw(b64u_decode(vector["keys"][vector["opens_with"]]["d"]))
        plain = decrypt_envelope(key, vector["signal_id"], vector["device_id"], vector["envelope"])
        assert plain.decode("utf-8") == vector["plaintext"]


def test_the_rotation_vectors_cover_the_issue_cases() -> None:
    cases = {v["description"].split(":")[0]: v["opens_with"] for v in ROTATION["vectors"]}
    assert cases["rotated key"] == "new"
    assert cases["old key after deletion"] is None


def test_a_device_rotates_at_most_ten_times_a_day(world: World, school: dict) -> None:
    """Each rotation is a log entry every client verifies: a device cannot flood its log."""
    contact = school["contact"]
    for _ in range(10):
        assert rotate(world, contact).status_code == 200
    response = rotate(world, contact)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_only_the_device_itself_is_named_as_who_rotated() -> None:
    """`by` of key_rotated is the device itself; the same entry by another device or the
    server is refused (the signature alone is the device's, so this is the log's own rule)."""
    valid = json.loads(
        (Path(__file__).parent / "vectors" / "keylog" / "rotation-valid.json").read_text()
    )
    entries = valid["entries"]
    assert keylog.derive("school-1", entries).devices["dev-b1"].enc_key == entries[-1]["enc_key"]
    for by in ("device:dev-a1", "server", "admin:admin-1"):
        changed = [*entries[:-1], {**entries[-1], "by": by}]
        with pytest.raises(keylog.LogError, match="rotated only by its own device"):
            keylog.derive("school-1", changed)
