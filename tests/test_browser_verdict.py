"""Issue 20 items 1 and 2 in the recipient's app (Chromium): a signed signal shows its verified
sender ("Van: ..."), a forward its forwarder, and a signature that does not verify brings up the
unverifiable screen instead of the signal, whose "Melden" records a security event that the
admins and the claimed sender organisation see."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import expect

from bench.keylogcost import source_page
from server import keylog, orglog
from server.client import Client
from server.clientstate import ClientState
from server.clientstate import load as load_state
from server.envelope import new_signal_id
from tests.browser import Phone, enrol_phone, years_ago
from tests.conftest import live_world
from tests.support import Device, World, seal
from tests.test_browser_story import (
    SCHOOL,
    confirm,
    enrol_sender,
    fill_and_check,
    heading,
    open_pending,
    send_checked,
)
from tests.test_keylog_server import api_key, verified

NAME, BORN = "Fleur de Boer", "2016-04-04"
VT_NAME = "Veilig Thuis Utrecht"
UNVERIFIABLE = "Dit signaal kan niet worden gecontroleerd. Het is mogelijk niet echt."


@pytest.fixture
def school(world: World, browser: Any) -> dict[str, Any]:
    school_id = world.org(name="Basisschool Het Anker")
    code = world.db.execute("SELECT code FROM orgs WHERE id = ?", [school_id]).fetchone()[0]
    vt = world.org("veilig_thuis", VT_NAME)
    return {
        "id": school_id,
        "code": code,
        "vt": vt,
        "admin": world.member("admin", None),
        "sender": world.member("sender", vt),
        "phone": enrol_phone(browser, world, "contact", school_id, name="Ingrid Bakker"),
    }


def signed_send(
    world: World,
    sender: Device,
    school_id: str,
    key: ec.EllipticCurvePrivateKey,
    signer: dict[str, str],
    origin: dict[str, str] | None = None,
) -> str:
    """Seal version 3 in Python, as a sending device does, and send it with `sender`'s cookie."""
    signal_id = new_signal_id()
    devices = sender.get(f"/api/schools/{school_id}/recipients").json()["devices"]
    head = verified(world, school_id).head()
    envelopes = seal(
        devices, signal_id, NAME, BORN, head=head, signing_key=key, signer=signer, origin=origin
    )
    body = {"id": signal_id, "recipient_id": school_id, "envelopes": envelopes}
    response = sender.post("/api/signals", json=body)
    assert response.status_code == 201, response.text
    return signal_id


def open_on(phone: Phone, signal_id: str) -> None:
    phone.goto(f"/signaal/{signal_id}")


def expect_unverifiable(phone: Phone) -> None:
    page = phone.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Signaal niet te controleren")
    expect(page.get_by_role("alert")).to_contain_text(UNVERIFIABLE)
    assert NAME not in (page.locator("main").text_content() or "")
    expect(page.get_by_text("Van:")).to_have_count(0)


def report(phone: Phone) -> None:
    phone.page.get_by_role("button", name="Melden").click()
    expect(phone.page.get_by_text("Gemeld. Dank u.")).to_be_visible()


def events(world: World, school: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = school["admin"].get("/api/admin/security-events").json()
    return [(e["kind"], e["org_id"], e["reporter_org_id"]) for e in rows]


def hwc_send(world: World, school: dict[str, Any], state: ClientState) -> str:
    """`hwc send --sign-as` with the organisation's API key: the new signal's id."""
    Client(world.url, api_key(world, school), state=state, sign_as=school["vt"]).send(
        school["code"], NAME, BORN
    )
    row = world.db.execute("SELECT id FROM signals ORDER BY sent_at DESC LIMIT 1").fetchone()
    return str(row[0])


def register_machine(world: World, school: dict[str, Any], state: ClientState) -> None:
    """The sending system's key in the sender organisation's log, approved by a sender's device
    (docs/keylog.md, `machine_added`), written as the server's registration would."""
    sender: Device = school["sender"]
    vt, device = school["vt"], state.signer_device
    approval = keylog.sign(sender.sig_private, keylog.machine_statement(vt, device, state.sig_key))
    with world.db.transaction():
        orglog.append(
            world.db,
            vt,
            "machine_added",
            orglog.by_device(sender.device_id),
            world.now(),
            device=device,
            sig_key=state.sig_key,
            approver=sender.device_id,
            approval=approval,
        )


def revoke_machine(world: World, school: dict[str, Any], state: ClientState) -> None:
    time.sleep(1.05)  # log times are whole seconds: the revocation is after the signal's
    with world.db.transaction():
        orglog.append(
            world.db,
            school["vt"],
            "machine_revoked",
            orglog.by_device(school["sender"].device_id),
            world.now(),
            device=state.signer_device,
        )


def test_a_signed_signal_shows_its_verified_sender(world: World, school: dict[str, Any]) -> None:
    sender: Device = school["sender"]
    signer = {"org": school["vt"], "device": sender.device_id}
    signal_id = signed_send(world, sender, school["id"], sender.sig_private, signer)
    phone = school["phone"]
    open_on(phone, signal_id)
    page = phone.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Nieuw signaal")
    expect(page.locator(".child-name")).to_have_text(NAME)
    expect(page.locator(".verified-from")).to_have_text(f"Van: {VT_NAME}")
    expect(page.get_by_text("Niet ondertekend")).to_have_count(0)
    phone.shot("verdict-verified")
    assert phone.csp_problems() == []


def test_hwc_send_with_a_key_not_in_the_log_is_unverifiable_and_reported(
    world: World, school: dict[str, Any], tmp_path: Any, browser: Any
) -> None:
    """Issue 20, done when: a valid API key, but `--sign-as` with a signing key that is not in
    the organisation's key log: the contact's app does not show the signal, "Melden" records
    the event, and the sender organisation's people see it."""
    client = Client(
        world.url,
        api_key(world, school),
        state=load_state(tmp_path / "s.json"),
        sign_as=school["vt"],
    )
    client.send(school["code"], NAME, BORN)
    signal_id = world.db.execute("SELECT id FROM signals").fetchone()[0]
    phone = school["phone"]
    open_on(phone, signal_id)
    expect_unverifiable(phone)
    phone.shot("verdict-unverifiable")
    report(phone)
    assert events(world, school) == [("bad_signature", school["vt"], school["id"])]
    notices = school["sender"].get("/api/me/security-events").json()
    assert [n["kind"] for n in notices] == ["bad_signature"]
    assert set(notices[0]) == {"at", "kind", "label"}  # no reporter, no signal, no person
    # Not another organisation's people.
    other = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Elders"))
    assert other.get("/api/me/security-events").json() == []
    # The sender organisation's people are told in their app, until they tap "Gezien".
    melder = enrol_phone(browser, world, "sender", school["vt"], name="Sanne de Melder")
    area = melder.page.locator("#trust")
    expect(area).to_contain_text("Let op: een signaal met uw organisatie als afzender kon bij de ")
    expect(area.get_by_role("alert")).to_contain_text("gestolen API-sleutel")
    melder.shot("verdict-sender-notice")
    area.get_by_role("button", name="Gezien").click()
    expect(area).to_be_hidden()
    with melder.page.expect_response(lambda r: r.url.endswith("/api/me/security-events")):
        melder.page.reload()
    melder.page.wait_for_load_state("networkidle")
    expect(area).to_be_hidden()
    # The contact can still close it; the sender's timeline says why.
    page = phone.page
    page.get_by_role("button", name="Signaal sluiten").click()
    page.get_by_role("button", name="Ja, sluiten").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signaal gesloten")
    state = world.db.execute("SELECT state, close_reason FROM signals").fetchone()
    assert tuple(state) == ("closed", "unverifiable")


@pytest.mark.parametrize("claim", ["device_of_the_org", "another_org"])
def test_a_signer_with_a_key_not_in_the_log_is_unverifiable(
    world: World, school: dict[str, Any], claim: str
) -> None:
    """A version 3 envelope whose signer names a real device of the organisation (or of
    another one) but was signed with a key the log does not give that device."""
    sender: Device = school["sender"]
    if claim == "another_org":
        org = world.org("veilig_thuis", "Veilig Thuis Elders")
        device = world.member("sender", org).device_id
    else:
        org, device = school["vt"], sender.device_id
    stranger = ec.generate_private_key(ec.SECP256R1())
    signal_id = signed_send(world, sender, school["id"], stranger, {"org": org, "device": device})
    phone = school["phone"]
    open_on(phone, signal_id)
    expect_unverifiable(phone)
    report(phone)
    assert events(world, school) == [("bad_signature", org, school["id"])]


@pytest.mark.parametrize("case", ["contact_signs_an_original", "sender_signs_a_copy", "teacher"])
def test_a_signer_whose_role_does_not_send_that_is_unverifiable(
    world: World, school: dict[str, Any], case: str
) -> None:
    """The signature is the device's own and its key is in the log, but the device's role
    does not send what it signed: an original by a contact (of another school), a forwarded
    copy by a sender, anything by a teacher."""
    sender: Device = school["sender"]
    own = {"org": school["vt"], "device": sender.device_id}
    if case == "sender_signs_a_copy":
        signal_id = signed_send(world, sender, school["id"], sender.sig_private, own, own)
    else:
        org = world.org(name="Basisschool Elders") if case != "teacher" else school["id"]
        signing = world.member("contact" if case != "teacher" else "teacher", org)
        signer = {"org": org, "device": signing.device_id}
        signal_id = signed_send(world, sender, school["id"], signing.sig_private, signer)
    phone = school["phone"]
    open_on(phone, signal_id)
    expect_unverifiable(phone)


def test_a_forward_shows_who_forwarded_it(
    world: World, school: dict[str, Any], browser: Any
) -> None:
    """The contact forwards a verified signal to a teacher as version 3 with its origin: the
    teacher's app shows the original sender and "Doorgestuurd door <name>, intern begeleider"."""
    sender: Device = school["sender"]
    contact = world.member("contact", school["id"], name="Ingrid de Wit")
    signal_id = signed_send(
        world,
        sender,
        school["id"],
        sender.sig_private,
        {"org": school["vt"], "device": sender.device_id},
    )
    teacher = enrol_phone(browser, world, "teacher", school["id"], name="Tom Jansen")
    assert contact.open(signal_id) == {"name": NAME, "birth_date": BORN}
    teachers = contact.get(f"/api/schools/{school['id']}/teachers").json()
    device = next(d for t in teachers if t["person_id"] == teacher.person_id for d in t["devices"])
    envelopes = seal(
        [device],
        signal_id,
        NAME,
        BORN,
        head=verified(world, school["id"]).head(),
        signing_key=contact.sig_private,
        signer={"org": school["id"], "device": contact.device_id},
        origin={"org": school["vt"], "device": sender.device_id},
    )
    body = {"teachers": [teacher.person_id], "envelopes": envelopes}
    response = contact.post(f"/api/signals/{signal_id}/forward", json=body)
    assert response.status_code == 200, response.text
    open_on(teacher, signal_id)
    page = teacher.page
    expect(page.locator(".child-name")).to_have_text(NAME)
    expect(page.locator(".verified-from")).to_contain_text(f"Van: {VT_NAME}")
    expect(page.locator(".verified-from")).to_contain_text(
        "Doorgestuurd door Ingrid de Wit, intern begeleider"
    )
    teacher.shot("verdict-forwarded")


def test_hwc_send_with_its_key_in_the_log_is_verified_until_the_key_is_revoked(
    world: World, school: dict[str, Any], tmp_path: Any
) -> None:
    """The machine path: `hwc send`'s key approved into the sender organisation's log shows
    "Van: ..."; once revoked, a signal sent before still does (it was active then), one sent
    after does not."""
    state = load_state(tmp_path / "s.json")
    register_machine(world, school, state)
    before = hwc_send(world, school, state)
    phone = school["phone"]
    open_on(phone, before)
    expect(phone.page.locator(".verified-from")).to_have_text(f"Van: {VT_NAME}")
    revoke_machine(world, school, state)
    after = hwc_send(world, school, state)
    open_on(phone, after)
    expect_unverifiable(phone)
    open_on(phone, before)
    expect(phone.page.locator(".child-name")).to_have_text(NAME)
    expect(phone.page.locator(".verified-from")).to_have_text(f"Van: {VT_NAME}")


def test_a_relayed_copy_shows_the_officer_who_relayed_it(
    world: World, school: dict[str, Any], browser: Any
) -> None:
    """A signal to a leerplicht office shows its verified sender on the officer's phone; the
    copy an officer relays (version 3, its origin the sender) shows the school's contact "Van:
    <sender>" and "Doorgestuurd door <officer>, leerplichtambtenaar"."""
    sender: Device = school["sender"]
    own = {"org": school["vt"], "device": sender.device_id}
    office = world.org("leerplicht", "Leerplicht Utrecht", municipalities="Utrecht")
    officer_phone = enrol_phone(browser, world, "officer", office, name="Omar Leerplicht")
    officer = world.member("officer", office, name="Olga Leerplicht")
    signal_id = signed_send(world, sender, office, sender.sig_private, own)
    open_on(officer_phone, signal_id)
    expect(officer_phone.page.get_by_role("heading", level=1)).to_have_text(
        "Signaal voor leerplicht"
    )
    expect(officer_phone.page.locator(".verified-from")).to_have_text(f"Van: {VT_NAME}")
    assert officer.open(signal_id) == {"name": NAME, "birth_date": BORN}
    devices = officer.get(f"/api/schools/{school['id']}/recipients").json()["devices"]
    envelopes = seal(
        devices,
        signal_id,
        NAME,
        BORN,
        head=verified(world, school["id"]).head(),
        signing_key=officer.sig_private,
        signer={"org": office, "device": officer.device_id},
        origin=own,
    )
    body = {"school_id": school["id"], "envelopes": envelopes}
    response = officer.post(f"/api/signals/{signal_id}/relay", json=body)
    assert response.status_code == 200, response.text
    phone = school["phone"]
    open_on(phone, signal_id)
    expect(phone.page.locator(".child-name")).to_have_text(NAME)
    expect(phone.page.locator(".verified-from")).to_contain_text(f"Van: {VT_NAME}")
    expect(phone.page.locator(".verified-from")).to_contain_text(
        "Doorgestuurd door Olga Leerplicht, leerplichtambtenaar"
    )


def test_every_phone_on_the_way_shows_who_sent_and_who_passed_it_on(
    browser: Any, world: World
) -> None:
    """The whole way through the real app, every envelope signed by the phone that made it: the
    officer sees "Van: Veilig Thuis Utrecht", the contact also who relayed it, the teacher who
    forwarded it (each name only because the signature proved that device)."""
    school = world.org(name=SCHOOL, place="Utrecht")
    office = world.org("leerplicht", "Leerplicht Utrecht", municipalities="Utrecht, Nieuwegein")
    sender = enrol_sender(browser, world)
    officer = enrol_phone(browser, world, "officer", office, name="Omar Leerplicht")
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    teacher = enrol_phone(browser, world, "teacher", school, name="Anna", class_label="groep 5b")
    born = years_ago(9)
    fill_and_check(
        sender, NAME, born, recipient="Leerplicht Utrecht", query="Nieuwegein", office=True
    )
    ref = send_checked(sender, NAME, born)

    open_pending(officer, ref)
    page = officer.page
    expect(page.locator(".verified-from")).to_have_text("Van: Veilig Thuis Utrecht")
    page.get_by_role("combobox", name="School").fill("Utrecht")
    page.get_by_role("option", name=re.compile(SCHOOL)).click()
    page.get_by_role("button", name="Doorsturen naar school").click()
    confirm(page, f"Doorsturen naar {SCHOOL}?", "Ja, doorsturen")
    expect(heading(page)).to_have_text("Doorgestuurd naar school")

    open_pending(contact, ref)
    lines = contact.page.locator(".verified-from p")
    expect(lines).to_have_text(
        ["Van: Veilig Thuis Utrecht", "Doorgestuurd door Omar Leerplicht, leerplichtambtenaar"]
    )
    contact.page.get_by_role("button", name="Anna (groep 5b)").click()
    confirm(contact.page, "Doorsturen naar Anna (groep 5b)?", "Ja, doorsturen")
    expect(heading(contact.page)).to_have_text("Doorgestuurd")

    teacher.goto("/")
    teacher.page.get_by_role("link", name="Signaal openen").click()
    expect(teacher.page.locator(".child-name")).to_have_text(NAME)
    expect(teacher.page.locator(".verified-from p")).to_have_text(
        ["Van: Veilig Thuis Utrecht", "Doorgestuurd door Ilse Begeleider, intern begeleider"]
    )
    for phone in (sender, officer, contact, teacher):
        assert phone.page_errors == []


def test_after_the_cut_over_an_unsigned_signal_is_unverifiable(browser: Any, tmp_path: Any) -> None:
    """HWC_SIGNED_FROM (docs/envelope.md): the app shows an unsigned signal sent from that date
    on as unverifiable, and one sent before as before (without "Van:"). The server already
    refuses unsigned envelopes from then on (tests/test_signed_from.py), so the date lies
    ahead here and the late signal's id claims a time after it."""
    cut = datetime.now(UTC).date() + timedelta(days=2)
    with live_world(tmp_path / "hwc.db", signed_from=cut.isoformat()) as world:
        school = world.org()
        phone = enrol_phone(browser, world, "contact", school, name="Ingrid Bakker")
        sender = world.member("sender", world.org("veilig_thuis", VT_NAME))
        late = new_signal_id(datetime.combine(cut, datetime.min.time(), UTC).timestamp() + 60)
        assert world.send(sender, school, NAME, BORN, late).status_code == 201
        now = new_signal_id()
        assert world.send(sender, school, NAME, BORN, now).status_code == 201
        open_on(phone, late)
        expect_unverifiable(phone)
        open_on(phone, now)
        expect(phone.page.locator(".child-name")).to_have_text(NAME)
        expect(phone.page.get_by_text("Van:")).to_have_count(0)
        # the sender is only the server's word: said so, not shown as proven
        expect(
            phone.page.get_by_text("Niet ondertekend: volgens de server verstuurd door")
        ).to_be_visible()
        phone.close()


def test_a_forged_forward_to_a_teacher_is_unverifiable_and_can_be_removed(
    world: World, school: dict[str, Any], browser: Any
) -> None:
    """A forwarded copy whose signer names the school's contact under a key the log does not
    give that device: the teacher's app shows the unverifiable screen, and "Verwijderen"
    removes the copy from the teacher's phone."""
    sender: Device = school["sender"]
    contact = world.member("contact", school["id"], name="Ingrid de Wit")
    own = {"org": school["vt"], "device": sender.device_id}
    signal_id = signed_send(world, sender, school["id"], sender.sig_private, own)
    teacher = enrol_phone(browser, world, "teacher", school["id"], name="Tom Jansen")
    teachers = contact.get(f"/api/schools/{school['id']}/teachers").json()
    devices = [d for t in teachers if t["person_id"] == teacher.person_id for d in t["devices"]]
    envelopes = seal(
        devices,
        signal_id,
        NAME,
        BORN,
        head=verified(world, school["id"]).head(),
        signing_key=ec.generate_private_key(ec.SECP256R1()),
        signer={"org": school["id"], "device": contact.device_id},
        origin=own,
    )
    body = {"teachers": [teacher.person_id], "envelopes": envelopes}
    assert contact.post(f"/api/signals/{signal_id}/forward", json=body).status_code == 200
    open_on(teacher, signal_id)
    expect_unverifiable(teacher)
    teacher.page.get_by_role("button", name="Verwijderen").click()
    confirm(teacher.page, "Het signaal wordt van dit apparaat verwijderd.", "Ja, verwijderen")
    expect(heading(teacher.page)).to_have_text("Signaal verwijderd")
    held = world.db.execute(
        "SELECT count(*) FROM envelopes WHERE device_id IN "
        "(SELECT id FROM devices WHERE person_id = ?)",
        [teacher.person_id],
    ).fetchone()[0]
    assert held == 0


# pwa/signer.js's signerAt against a fake server (the page's fetch replaced): the signer org's
# log built in the page with real keys, asked at several send times.
SIGNER_AT_JS = """async () => {
  const json = (body) => new Response(JSON.stringify(body),
    { headers: { 'Content-Type': 'application/json' } });
  window.fetch = async (path) => json(path === '/api/log/key' ? { key: window.fake.key }
    : window.fake.log);
  const { LogBuilder, newLogKey } = await import('/tests/js/keylogbuild.mjs');
  const keylog = await import('/pwa/keylog.js');
  const { newSignalId } = await import('/pwa/envelope.js');
  const { SignerUnknown, signerAt } = await import('/pwa/signer.js');
  const log = new LogBuilder('vt-1');
  const t0 = log.at;
  await log.person('p1', 'sender');                                   // t0
  await log.device('p1', 'd1');                                       // t0 + 1
  await log.person('p2', 'sender');                                   // t0 + 2
  await log.device('p2', 'd2');                                       // t0 + 3
  await log.append('device_revoked', 'admin:adm', { person: 'p2', device: 'd2' });  // t0 + 4
  await log.append('role_changed', 'admin:adm', { person: 'p1', role: 'contact' }); // t0 + 5
  const logKey = await newLogKey();
  window.fake = { key: logKey.key, log: { org: 'vt-1', entries: log.entries,
    head: await logKey.sign((await keylog.verifyLog('vt-1', log.entries)).head) } };
  const ask = async (device, seconds, copy = false) => {
    try {
      const found = await signerAt({ org: 'vt-1', device },
        newSignalId(Math.round((t0 + seconds) * 1000)), copy);
      return found.sigKey === log.keys.get(device).sigKey ? 'ok' : 'wrong key';
    } catch (error) {
      return error instanceof SignerUnknown ? 'unknown' : String(error);
    }
  };
  return {
    before_it_was_added: await ask('d1', 0.5),
    added: await ask('d1', 1.5),
    role_changed_to_contact: await ask('d1', 6),
    contact_copy: await ask('d1', 6, true),
    sender_copy: await ask('d1', 1.5, true),
    revoked_after_sending: await ask('d2', 3.5),
    revoked_before_sending: await ask('d2', 4.5),
    not_in_the_log: await ask('d9', 6),
  };
}"""


def test_the_signer_is_looked_up_as_the_log_stood_when_the_signal_was_sent(
    browser: Any, world: World
) -> None:
    page = source_page(browser, world.url)
    assert page.evaluate(SIGNER_AT_JS) == {
        "before_it_was_added": "unknown",
        "added": "ok",
        "role_changed_to_contact": "unknown",
        "contact_copy": "ok",
        "sender_copy": "unknown",
        "revoked_after_sending": "ok",
        "revoked_before_sending": "unknown",
        "not_in_the_log": "unknown",
    }
    page.context.close()
