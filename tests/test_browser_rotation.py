"""Device key rotation through the real app in Debian's Chromium (issue 20 item 4, done-when
bullet 2): a week-old key is replaced at start, senders seal to the new key, the old private
key stays in IndexedDB while an envelope sealed to it lives and is gone once that envelope
expired (the server's test clock), after which an envelope to the old key no longer opens on
the device. And "Nieuwe sleutel maken" in the device panel; the rotation vectors in Chromium."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from server import timers
from server.clock import FrozenClock
from server.envelope import b64u_decode, b64u_encode
from tests.browser import ROOT, Phone, enrol_phone, trust_area
from tests.conftest import live_world
from tests.support import Device, World, new_signal_id, seal

NAME, BORN = "Xylofoon Quaggazwemmer", "2016-04-04"
DAY = 86400.0

# The device record in IndexedDB (pwa/keystore.js), its CryptoKeys described, its raw public
# keys as base64url: what a forensic copy of the browser's storage would hold.
DEVICE_RECORD_JS = """async () => {
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open('hwc-device'); r.onsuccess = () => ok(r.result); r.onerror = fail;
  });
  const record = await new Promise((ok, fail) => {
    const r = db.transaction('device').objectStore('device').get('self');
    r.onsuccess = () => ok(r.result); r.onerror = fail;
  });
  db.close();
  const { b64uEncode } = await import('/envelope.js');
  const keyOf = (k) => ({ type: k.privateKey.type, algorithm: k.privateKey.algorithm.name,
    extractable: k.privateKey.extractable, public: b64uEncode(k.publicKeyRaw),
    replacedAt: k.replacedAt ?? null });
  return { current: keyOf(record), old: (record.oldKeys ?? []).map(keyOf),
    next: record.nextKey ? keyOf(record.nextKey) : null, keyMadeAt: record.keyMadeAt ?? null };
}"""

AGE_KEY_JS = """async (days) => {
  const { loadDevice, saveDevice } = await import('/keystore.js');
  const device = await loadDevice();
  await saveDevice({ ...device, keyMadeAt: Date.now() - days * 86400000 });
}"""

OPEN_JS = """async (signalId) => {
  const { openSignal } = await import('/sealing.js');
  try {
    return { content: (await openSignal(signalId)).content };
  } catch (error) {
    return { error: error.code, message: error.message };
  }
}"""


@pytest.fixture
def clocked(db_path: Path) -> Iterator[tuple[World, FrozenClock]]:
    """An app on the test's clock (the browser keeps its own): expiry is the server's business."""
    clock = FrozenClock(time.time())
    with live_world(db_path, clock) as world:
        yield world, clock


def server_key(world: World, device_id: str) -> str:
    row = world.db.execute("SELECT public_key FROM devices WHERE id = ?", [device_id]).fetchone()
    return b64u_encode(row[0])


def device_id_of(world: World, person_id: str) -> str:
    row = world.db.execute(
        "SELECT id FROM devices WHERE person_id = ? AND revoked_at IS NULL", [person_id]
    ).fetchone()
    return str(row[0])


def wait_until(check: Any, what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def send_to(world: World, sender: Device, school: str, key: str | None = None) -> str:
    """A signal for the school's contact; `key`: sealed to that key (as a sender holding the
    device's old key would seal), else to the key the server lists."""
    signal_id = new_signal_id()
    devices = sender.get(f"/api/schools/{school}/recipients").json()["devices"]
    if key is not None:
        devices = [{**d, "public_key": key} for d in devices]
    body = {
        "id": signal_id,
        "recipient_id": school,
        "envelopes": seal(devices, signal_id, NAME, BORN),
    }
    response = sender.post("/api/signals", json=body)
    assert response.status_code == 201, response.text
    return signal_id


def record(phone: Phone) -> dict[str, Any]:
    return dict(phone.page.evaluate(DEVICE_RECORD_JS))


def expire_signals(world: World, clock: FrozenClock) -> None:
    """Move the server's clock past every signal's expiry and let the timers erase them."""
    until = world.db.execute("SELECT max(expires_at) FROM signals").fetchone()[0]
    clock.advance(until + 60 - clock.now())
    timers.run_due(world.db, clock.now(), world.app.state.timing)


def test_a_week_old_key_rotates_and_the_old_one_goes_when_its_last_envelope_expired(
    browser: Any, clocked: tuple[World, FrozenClock]
) -> None:
    world, clock = clocked
    school = world.org(name="Basisschool De Regenboog")
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    device_id = device_id_of(world, contact.person_id)
    first = record(contact)
    assert first["current"]["extractable"] is False and first["old"] == []
    assert first["current"]["public"] == server_key(world, device_id)
    before = send_to(world, sender, school)  # sealed to the first key

    # A week later (the phone's own clock says so): the start check makes a new key.
    contact.page.evaluate(AGE_KEY_JS, 8)
    contact.goto("/")
    wait_until(lambda: server_key(world, device_id) != first["current"]["public"], "no rotation")
    wait_until(lambda: len(record(contact)["old"]) == 1, "old key not kept")
    rotated = record(contact)
    assert rotated["current"]["public"] == server_key(world, device_id)
    assert rotated["old"][0]["public"] == first["current"]["public"]
    assert rotated["old"][0]["extractable"] is False and rotated["next"] is None
    entry = world.client().get(f"/api/orgs/{school}/log").json()["entries"][-1]
    assert (entry["kind"], entry["device"]) == ("key_rotated", device_id)
    after = send_to(world, sender, school)  # senders seal to the newest key
    envelope = world.db.execute(
        "SELECT envelope FROM envelopes WHERE signal_id = ?", [after]
    ).fetchone()[0]
    assert json.loads(envelope)["v"] == 1  # the test's sealing; the app seals v2 to the same key

    # Both open on the phone: the later with the new key, the earlier with the kept old key.
    contact.goto("/")
    expect(contact.page.get_by_role("heading", name="Dit apparaat")).to_be_visible()
    assert contact.page.evaluate(OPEN_JS, after) == {"content": {"name": NAME, "birth_date": BORN}}
    assert contact.page.evaluate(OPEN_JS, before) == {"content": {"name": NAME, "birth_date": BORN}}
    assert len(record(contact)["old"]) == 1  # still live: kept

    # The envelopes expire (the server's clock); at the next start the old key is destroyed.
    expire_signals(world, clock)
    keys = contact.page.evaluate("async () => (await fetch('/api/me/old-keys')).json()")
    assert keys["keys"][0]["needed_until"] is None
    contact.goto("/")
    wait_until(lambda: record(contact)["old"] == [], "old key not destroyed")
    storage = contact.storage()
    assert storage.count("CryptoKey private") == 2  # the current ECDH key and the signing key
    old_raw = json.dumps(list(b64u_decode(first["current"]["public"])), separators=(",", ":"))
    assert old_raw not in storage.replace(" ", "")

    # An envelope sealed to the old key (a copy kept by whoever held that key) opens no more.
    late = send_to(world, sender, school, key=first["current"]["public"])
    refused = contact.page.evaluate(OPEN_JS, late)
    assert refused["error"] == "undecryptable", refused
    assert "niet worden geopend" in refused["message"]
    expect(trust_area(contact)).not_to_contain_text("niet goed in het")
    assert contact.page_errors == []
    contact.close()


def home_phone(browser: Any, world: World, role: str) -> tuple[Phone, str, str]:
    """A school's phone of `role` on its home screen: the phone, its device id and its key."""
    phone = enrol_phone(browser, world, role, world.org(name="Basisschool De Regenboog"))
    device_id = device_id_of(world, phone.person_id)
    phone.goto("/")
    expect(phone.page.get_by_role("heading", name="Dit apparaat")).to_be_visible()
    return phone, device_id, server_key(world, device_id)


def test_nieuwe_sleutel_maken_replaces_the_key_at_once(browser: Any, world: World) -> None:
    """A suspected leak: the device panel's button makes and announces a new key now."""
    teacher, device_id, first = home_phone(browser, world, "teacher")
    page = teacher.page
    page.get_by_role("button", name="Nieuwe sleutel maken").click()
    expect(page.get_by_text("Dit apparaat heeft een nieuwe sleutel")).to_be_visible()
    assert server_key(world, device_id) != first
    assert record(teacher)["current"]["public"] == server_key(world, device_id)
    assert [k["public"] for k in record(teacher)["old"]] == [first]
    teacher.shot("rotation-01-nieuwe-sleutel")
    teacher.goto("/")  # the self-check agrees with the log: no warning
    expect(page.get_by_role("heading", name="Dit apparaat")).to_be_visible()
    page.wait_for_timeout(500)
    expect(trust_area(teacher)).not_to_contain_text("niet goed in het")
    assert teacher.page_errors == []
    teacher.close()


def test_a_lost_answer_to_a_rotation_loses_no_key(browser: Any, world: World) -> None:
    """The server took the new key but its answer never arrived: the phone kept the new key
    as its next key, so at the next start it takes it up instead of declaring its key lost."""
    contact, device_id, first = home_phone(browser, world, "contact")
    page = contact.page

    def lose_answer(route: Route) -> None:
        route.fetch()  # the server handles it...
        route.abort()  # ...and the phone sees no answer

    page.route("**/api/me/devices/*/key", lose_answer)
    page.get_by_role("button", name="Nieuwe sleutel maken").click()
    expect(page.get_by_text("Geen verbinding")).to_be_visible()
    taken = server_key(world, device_id)
    assert taken != first
    kept = record(contact)
    assert (kept["current"]["public"], kept["next"]["public"]) == (first, taken)
    page.unroute("**/api/me/devices/*/key")
    contact.goto("/")
    expect(page.get_by_role("heading", name="Dit apparaat")).to_be_visible()
    # Taken up at the start check; the first key, needed by no envelope, then destroyed.
    wait_until(lambda: record(contact)["current"]["public"] == taken, "next key not taken up")
    wait_until(lambda: record(contact)["old"] == [], "unneeded old key kept")
    assert record(contact)["next"] is None
    revoked = world.db.execute("SELECT revoked_at FROM devices WHERE id = ?", [device_id])
    assert revoked.fetchone()[0] is None
    contact.close()


def test_offline_after_a_rotation_the_kept_answer_still_names_this_device(
    browser: Any, world: World
) -> None:
    """The answer kept for offline starts may name the key from before the rotation: still
    this device's (an old key it keeps), so it starts offline as before."""
    school = world.org(name="Basisschool De Regenboog")
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    page = contact.page
    contact.goto("/")
    contact.wait_for_service_worker()
    page.get_by_role("button", name="Nieuwe sleutel maken").click()
    expect(page.get_by_text("Dit apparaat heeft een nieuwe sleutel")).to_be_visible()
    kept = page.evaluate("""async () => (await import('/keystore.js')).keptAnswer('/api/me')""")
    assert kept["value"]["device"]["public_key"] == record(contact)["old"][0]["public"]
    contact.context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signalen voor uw school")
    expect(page.get_by_text("Geen verbinding — bijgewerkt om", exact=False)).to_be_visible()
    contact.context.set_offline(False)
    device_id = device_id_of(world, contact.person_id)
    assert (
        world.db.execute("SELECT revoked_at FROM devices WHERE id = ?", [device_id]).fetchone()[0]
        is None
    )
    contact.close()


CONCURRENT_JS = """async () => {
  const keyring = await import('/keyring.js');
  const me = await (await fetch('/api/me')).json();
  await Promise.all([keyring.rotateKey(me), keyring.rotateKey(me)]);  // the button twice
  await Promise.all([keyring.rotateKey(me), keyring.destroyUnneeded(me)]);
}"""


def test_rotations_and_destruction_at_once_keep_the_announced_key(
    browser: Any, world: World
) -> None:
    """Two taps at once make one new key; a destruction running beside a rotation does not
    write back the record from before it (one IndexedDB transaction each)."""
    contact, device_id, _ = home_phone(browser, world, "contact")
    contact.page.evaluate(CONCURRENT_JS)
    entries = world.client().get(f"/api/orgs/{device_org(world, device_id)}/log").json()
    assert [e["kind"] for e in entries["entries"]].count("key_rotated") == 2
    now = record(contact)
    assert now["current"]["public"] == server_key(world, device_id) and now["next"] is None
    contact.close()


def device_org(world: World, device_id: str) -> str:
    row = world.db.execute(
        "SELECT p.org_id FROM devices d JOIN people p ON p.id = d.person_id WHERE d.id = ?",
        [device_id],
    ).fetchone()
    return str(row[0])


def test_a_sender_has_no_key_button(browser: Any, world: World) -> None:
    """Only devices that are sealed to rotate: a sender's key is never a recipient's."""
    vt = world.org("veilig_thuis", "Veilig Thuis Utrecht")
    sender = enrol_phone(browser, world, "sender", vt, name="Sanne Verzender")
    sender.goto("/")
    expect(sender.page.get_by_role("heading", name="Dit apparaat")).to_be_visible()
    expect(sender.page.get_by_role("button", name="Nieuwe sleutel maken")).to_have_count(0)
    sender.close()


RUN_ROTATION_VECTORS_JS = """async (file) => {
  const [keyring, envelope, envelope2] = await Promise.all([import('/keyring.js'),
    import('/envelope.js'), import('/envelope2.js')]);
  const { rotationVerdicts } = await import('/tests/js/rotationvectors.mjs');
  return rotationVerdicts({ keyring, envelope, envelope2 }, file);
}"""


def test_the_rotation_vectors_get_their_verdicts_in_chromium(browser: Any, world: World) -> None:
    from bench.keylogcost import source_page

    page = source_page(browser, world.url)
    vectors = json.loads((ROOT / "tests/vectors/envelope-rotation.json").read_text())
    verdicts = page.evaluate(RUN_ROTATION_VECTORS_JS, vectors)
    assert len(verdicts) == len(vectors["vectors"]) == 4
    assert [v for v in verdicts if not v["ok"]] == []
    page.context.close()
