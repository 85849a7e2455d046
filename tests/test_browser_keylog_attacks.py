"""Issue 19's attacks through the real app in Debian's Chromium, one context per device: a
device beside a working phone waits for that phone; a reset stops the old phone and says so; a
device row written straight into the database makes the sender's app refuse; a forked log shown
to the sender is caught when the contact opens; a device the person did not approve is named and
blocked. And adding a device from one's own phone, and a reset after a wiped phone."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from playwright.sync_api import Route, expect

from server import keylog, logkey, orglog
from server.envelope import b64u_encode, generate_device_key
from tests.browser import (
    answer_on,
    enrol_pending,
    enrol_phone,
    new_phone,
    recipient_ids,
    trust_area,
    years_ago,
)
from tests.support import World
from tests.test_browser_story import SCHOOL, enrol_sender, fill_and_check, heading

NAME = "Xylofoon Quaggazwemmer"
NOT_SENT = "Het signaal is niet verstuurd"


def test_a_device_beside_a_phone_gets_nothing_until_the_phone_approves(
    browser: Any, world: World
) -> None:
    """(a) An admin's link for a contact who has a phone: the new device waits; declined, it
    stays dead; a device approved on the phone receives."""
    school = world.org(name=SCHOOL)
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    contact.goto("/")
    token = world.enrol_link_token(contact.person_id)
    evil, code = enrol_pending(browser, world, token, "Mijn telefoon")
    assert len(recipient_ids(world, sender, school)) == 1  # pending: no envelope for it
    answer_on(contact, code, "Weigeren")
    evil.page.get_by_role("button", name="Opnieuw kijken").click()
    expect(heading(evil.page)).to_have_text("Niet aangemeld")
    evil.goto("/")
    expect(heading(evil.page)).to_have_text("Niet aangemeld")
    assert len(recipient_ids(world, sender, school)) == 1

    ipad, code = enrol_pending(browser, world, world.enrol_link_token(contact.person_id), "iPad")
    answer_on(contact, code, "Toestaan")
    ipad.page.get_by_role("button", name="Opnieuw kijken").click()
    expect(heading(ipad.page)).not_to_have_text("Wacht op goedkeuring")
    assert len(recipient_ids(world, sender, school)) == 2
    for phone in (contact, evil, ipad):
        assert phone.page_errors == []
        phone.close()


def test_two_pending_devices_at_once_are_both_refused_with_an_explanation(
    browser: Any, world: World
) -> None:
    """A short code can be ground by a server that knows the phone's keys, so a second pending
    device refuses both: the second says why, the first stops, the phone is asked nothing."""
    school = world.org(name=SCHOOL)
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    first, _ = enrol_pending(browser, world, world.enrol_link_token(contact.person_id), "A")
    second = new_phone(browser, world.url)
    second.goto(f"/aanmelden#{world.enrol_link_token(contact.person_id)}")
    second.page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(second.page.get_by_text("twee nieuwe apparaten tegelijk")).to_be_visible()
    first.page.get_by_role("button", name="Opnieuw kijken").click()
    expect(heading(first.page)).to_have_text("Niet aangemeld")
    contact.goto("/")
    expect(contact.page.get_by_role("heading", name="Dit apparaat")).to_be_visible()
    expect(trust_area(contact)).to_be_hidden()
    for phone in (contact, first, second):
        phone.close()


def admin_reset(world: World, person_id: str) -> str:
    """An admin resets the person (lost or wiped phone): the fresh link's token."""
    admin = world.member("admin", None)
    response = admin.post(f"/api/admin/people/{person_id}/reset", json={})
    assert response.status_code == 201, response.text
    return str(response.json()["link"]).split("#", 1)[1]


def test_a_reset_stops_the_old_phone_which_says_so_and_a_new_phone_enrols(
    browser: Any, world: World
) -> None:
    """(b) An admin reset: the old phone stops and says why; then the reset after a wiped
    phone: the fresh link enrols a new first device, no approval needed."""
    school = world.org(name=SCHOOL)
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    contact.goto("/")  # the self-check remembers who this device is
    expect(heading(contact.page)).not_to_have_text("Niet aangemeld")
    contact.page.wait_for_timeout(500)
    token = admin_reset(world, contact.person_id)
    contact.goto("/")
    expect(heading(contact.page)).to_have_text("Niet aangemeld")
    expect(contact.page.get_by_text("apparaten opnieuw ingesteld")).to_be_visible()
    contact.shot("keylog-01-na-reset")

    wiped = new_phone(browser, world.url)
    wiped.goto(f"/aanmelden#{token}")
    wiped.page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(heading(wiped.page)).to_have_text("Dit apparaat is aangemeld")
    contact.close()
    wiped.close()


def plant_device(world: World, person_id: str) -> None:
    """What a compromised server (or a restored, altered backup) does: a device row for the
    person, written beside the API and the log."""
    _, public = generate_device_key()
    world.db.execute(
        "INSERT INTO devices (id, person_id, label, public_key, credential_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        ["planted-device", person_id, "Mijn telefoon", public, os.urandom(32), time.time()],
    )
    world.db.conn.commit()


def test_a_device_row_written_into_the_database_stops_the_sender(
    browser: Any, world: World
) -> None:
    """(c) The sender's app seals nothing to a device the log does not name: it says so in
    Dutch and reports a security event."""
    school = world.org(name=SCHOOL, place="Utrecht")
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    sender = enrol_sender(browser, world)
    plant_device(world, contact.person_id)
    sender.goto("/")
    fill_and_check(sender, NAME, years_ago(9))
    page = sender.page
    expect(heading(page)).to_have_text("Controleer het signaal")
    page.get_by_role("button", name="Versturen").click()
    expect(page.get_by_text(NOT_SENT)).to_be_visible()
    expect(page.get_by_text("Bel de ontvanger")).to_be_visible()
    assert world.db.execute("SELECT count(*) FROM envelopes").fetchone()[0] == 0
    kinds = [r[0] for r in world.db.execute("SELECT kind FROM security_events").fetchall()]
    assert kinds == ["recipients_mismatch"]
    sender.shot("keylog-02-niet-verstuurd")
    sender.close()
    contact.close()


def test_a_device_row_written_into_the_database_brings_up_the_contacts_warning(
    browser: Any, world: World
) -> None:
    """(c) The contact's phone names the planted device and blocks it."""
    school = world.org(name=SCHOOL, place="Utrecht")
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    plant_device(world, contact.person_id)
    contact.goto("/")
    area = trust_area(contact)
    expect(area).to_contain_text("niet in het controleerbare sleutellogboek", timeout=3000)
    area.get_by_role("button", name="Dit was ik niet — blokkeer dit apparaat").click()
    expect(area).to_contain_text("geblokkeerd")
    contact.close()


def forked_answer(world: World, org: str) -> dict[str, Any]:
    """The organisation's log with one more entry the real log never had (a person nobody
    added), signed by the log key: what a lying server shows one client."""
    entries = [dict(e) for e in orglog.entries(world.db, org)]
    extra = {
        "org": org,
        "seq": len(entries),
        "prev": keylog.entry_hash(entries[-1]),
        "at": int(entries[-1]["at"]) + 1,
        "kind": "person_added",
        "by": "server",
        "person": "ghost",
        "role": "teacher",
    }
    entries.append(extra)
    head = {"org": org, "size": len(entries), "hash": keylog.entry_hash(extra)}
    signed = keylog.sign_head(logkey.log_private_key(world.db), head)
    return {"org": org, "entries": entries, "head": signed}


def test_a_forked_log_shown_to_the_sender_is_caught_when_the_contact_opens(
    browser: Any, world: World
) -> None:
    """(d) The server shows the sender a fork (the test swaps the log answer): the sender
    seals under the fork's head, and the contact's phone, whose own view differs, warns."""
    school = world.org(name=SCHOOL, place="Utrecht")
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    contact.goto("/")
    sender = enrol_sender(browser, world)
    fork = forked_answer(world, school)

    def swap(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(fork))

    sender.page.route(f"**/api/orgs/{school}/log", swap)
    sender.goto("/")
    fill_and_check(sender, NAME, years_ago(9))
    sender.page.get_by_role("button", name="Versturen").click()
    expect(heading(sender.page)).to_have_text("Signaal verstuurd")
    signal_id = world.db.execute("SELECT id FROM signals").fetchone()[0]
    contact.goto(f"/signaal/{signal_id}")
    expect(contact.page.get_by_text("versleuteld volgens een andere lijst")).to_be_visible()
    kinds = [r[0] for r in world.db.execute("SELECT kind FROM security_events").fetchall()]
    assert "head_mismatch" in kinds
    contact.shot("keylog-03-gesplitst-logboek")
    sender.close()
    contact.close()


def test_a_device_the_phone_did_not_approve_is_named_and_blocked(
    browser: Any, world: World
) -> None:
    """(e) A contact's link for a teacher who has a phone waits for the phone; a device added
    for the teacher that this phone did not approve (here: approved on the teacher's tablet)
    brings up the warning, and the phone blocks it."""
    school = world.org(name=SCHOOL)
    contact = world.member("contact", school)
    teacher = enrol_phone(browser, world, "teacher", school, name="Juf Anna")
    teacher.goto("/")
    link = contact.post(f"/api/admin/people/{teacher.person_id}/enrol-link", json={}).json()
    hidden, code = enrol_pending(browser, world, link["link"].split("#", 1)[1], "Telefoon")
    answer_on(teacher, code, "Weigeren")
    hidden.close()

    tablet = world.enrol(teacher.person_id)  # a second device, approved on the phone below
    code = keylog.comparison_code(b64u_encode(tablet.public_key), tablet.sig_key)
    answer_on(teacher, code, "Toestaan")
    third = world.enrol(teacher.person_id)
    org = world.db.execute("SELECT org_id FROM people WHERE id = ?", [teacher.person_id])
    assert tablet.approve(third, org.fetchone()[0]).status_code == 200
    teacher.goto("/")
    area = trust_area(teacher)
    expect(area).to_contain_text("niet heeft goedgekeurd")
    expect(area).to_contain_text("door een ander apparaat van u")
    teacher.shot("keylog-04-niet-goedgekeurd")
    area.get_by_role("button", name="Dit was ik niet — blokkeer dit apparaat").click()
    expect(area).to_contain_text("geblokkeerd")
    assert third.get("/api/me").status_code in (401, 403)
    teacher.close()


def test_adding_a_device_from_ones_own_phone(browser: Any, world: World) -> None:
    sender = enrol_sender(browser, world)
    sender.goto("/")
    sender.page.get_by_role("link", name="Apparaat toevoegen").click()
    expect(heading(sender.page)).to_have_text("Apparaat toevoegen")
    # A screen of its own: a refresh of what lies beneath never draws over the link.
    assert sender.page.url.endswith("/apparaat-toevoegen")
    sender.page.evaluate("window.dispatchEvent(new Event('hwc:refresh'))")
    expect(heading(sender.page)).to_have_text("Apparaat toevoegen")
    link = sender.page.locator(".enrol-link").text_content() or ""
    laptop, code = enrol_pending(browser, world, link.split("#", 1)[1], "Laptop")
    answer_on(sender, code, "Toestaan")
    laptop.page.get_by_role("button", name="Opnieuw kijken").click()
    expect(heading(laptop.page)).not_to_have_text("Wacht op goedkeuring")
    expect(laptop.page.get_by_text("Sanne Verzender")).to_be_visible()
    sender.close()
    laptop.close()


LOG_FETCH_MS_JS = """() => performance.getEntriesByType('resource')
  .filter((e) => e.name.includes('/api/orgs/') || e.name.includes('/api/log/key'))
  .map((e) => [new URL(e.name).pathname, e.duration])"""


def test_what_the_key_log_adds_to_a_send(browser: Any, world: World) -> None:
    """The extra request of a send (the receiver's log; the log key was pinned at the app's
    start check) and its time, printed; the first send also loads the lazy modules."""
    school = world.org(name=SCHOOL, place="Utrecht")
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    sender = enrol_sender(browser, world)
    for round_ in (1, 2):
        sender.goto("/")
        sender.requested.clear()
        fill_and_check(sender, NAME, years_ago(9))
        expect(heading(sender.page)).to_have_text("Controleer het signaal")
        start = time.perf_counter()
        sender.page.get_by_role("button", name="Versturen").click()
        expect(heading(sender.page)).to_have_text("Signaal verstuurd")
        took = (time.perf_counter() - start) * 1000
        extra = [u for u in sender.requested if f"/api/orgs/{school}/log" in u]
        timings = sender.page.evaluate(LOG_FETCH_MS_JS)
        print(
            f"\nsend {round_}: {took:.0f} ms from tap to 'verstuurd'; key log requests "
            f"{len(extra)}: {[(p, round(ms, 1)) for p, ms in timings]}"
        )
        assert len(extra) == 1, extra  # the log key was pinned at the start check
    sender.close()
    contact.close()
