"""The whole story in real browsers, one context per person's phone, every step through the UI:
enrol by link, send, open, forward, view once, finish — and what the sender sees meanwhile."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from server import timers
from tests.browser import REF, Phone, dutch_date, enrol_phone, new_phone, years_ago
from tests.support import World

NAME = "Xylofoon Quaggazwemmer"
SCHOOL = "Basisschool De Regenboog"


def enrol_sender(browser: Any, world: World, shot: str | None = None) -> Phone:
    veilig_thuis = world.org("veilig_thuis", "Veilig Thuis Utrecht")
    return enrol_phone(browser, world, "sender", veilig_thuis, name="Sanne Verzender", shot=shot)


def heading(page: Page) -> Any:
    return page.get_by_role("heading", level=1)


def confirm(page: Page, question: str, answer: str) -> None:
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(question)
    dialog.get_by_role("button", name=answer).click()
    expect(dialog).to_have_count(0)


def fill_and_check(
    sender: Phone,
    name: str,
    born: date,
    *,
    recipient: str = SCHOOL,
    query: str = "regenboog",
    office: bool = False,
    shots: str | None = None,
) -> None:
    """Fill in the new-signal form and go to the check screen."""
    page = sender.page
    expect(heading(page)).to_have_text("Nieuw signaal")
    if shots:
        page.get_by_role("button", name="Controleren").click()
        expect(page.get_by_text("Kies een school uit de lijst.")).to_be_visible()
        expect(page.get_by_text("Vul de naam van het kind in.")).to_be_visible()
        expect(page.get_by_text("Vul de geboortedatum in.")).to_be_visible()
        sender.shot(f"{shots}-03-formulier-fouten")
    if office:
        page.get_by_role("radio", name=re.compile("Een leerplichtbureau")).check()
    search = page.get_by_role("combobox", name="Leerplichtbureau" if office else "School")
    search.fill(query)
    option = page.get_by_role("option", name=re.compile(recipient))
    if shots:
        expect(option).to_be_visible()
        sender.shot(f"{shots}-04-school-zoeken")
    option.click()
    expect(page.get_by_text(f"Gekozen: {recipient}")).to_be_visible()
    page.get_by_label("Naam van het kind").fill(name)
    page.get_by_label("Dag", exact=True).fill(str(born.day))
    page.get_by_label("Maand", exact=True).fill(str(born.month))
    page.get_by_label("Jaar", exact=True).fill(str(born.year))
    if shots:
        sender.shot(f"{shots}-05-formulier-ingevuld")
    page.get_by_role("button", name="Controleren").click()


def send_checked(sender: Phone, name: str, born: date, shots: str | None = None) -> str:
    """On the check screen: verify and send; returns the reference code shown."""
    page = sender.page
    expect(heading(page)).to_have_text("Controleer het signaal")
    expect(page.get_by_text(name)).to_be_visible()
    expect(page.get_by_text(dutch_date(born))).to_be_visible()
    expect(page.get_by_text(re.compile("moet reageren vóór"))).to_be_visible()
    if shots:
        sender.shot(f"{shots}-06-controleren")
    page.get_by_role("button", name="Versturen").click()
    expect(heading(page)).to_have_text("Signaal verstuurd")
    expect(page.get_by_text("Noteer in uw dossier:")).to_be_visible()
    ref = page.get_by_text(REF).first.text_content() or ""
    assert REF.fullmatch(ref), ref
    if shots:
        sender.shot(f"{shots}-07-verstuurd")
    # The name is gone from the page and from every kind of storage on the device.
    assert name not in page.content()
    assert name not in sender.storage()
    return ref


def send_via_app(sender: Phone, name: str, born: date, shots: str | None = None) -> str:
    fill_and_check(sender, name, born, shots=shots)
    return send_checked(sender, name, born, shots=shots)


def sender_card(sender: Phone, ref: str) -> Any:
    sender.goto("/")
    card = sender.page.get_by_role("listitem").filter(has_text=ref)
    expect(card).to_be_visible()
    card.scroll_into_view_if_needed()
    return card


def open_pending(phone: Phone, ref: str) -> None:
    phone.goto("/")
    phone.page.get_by_role("link", name=f"Signaal {ref} openen").click()


def test_send_forward_view_finish(browser: Any, world: World) -> None:
    school = world.org(name=SCHOOL, place="Utrecht")
    sender = enrol_sender(browser, world, shot="verzender")
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider", shot="contact")
    teacher = enrol_phone(
        browser,
        world,
        "teacher",
        school,
        name="Juf Anna",
        class_label="groep 5b",
        shot="leerkracht",
    )
    born = years_ago(12)

    # The sender: a new signal through the form.
    ref = send_via_app(sender, NAME, born, shots="verzender")
    card = sender_card(sender, ref)
    expect(card).to_contain_text("afgeleverd op 1 apparaat")
    expect(card).to_contain_text(f"Aan: {SCHOOL}")
    sender.shot("verzender-08-overzicht-verstuurd")

    # The contact: the pending list, open, forward to the teacher.
    contact.goto("/")
    expect(contact.page.get_by_text(re.compile(r"Vóór .* doorsturen"))).to_be_visible()
    contact.shot("contact-03-overzicht-nieuw")
    contact.page.get_by_role("link", name=f"Signaal {ref} openen").click()
    page = contact.page
    expect(page.locator(".child-name")).to_have_text(NAME)
    expect(page.get_by_text(f"{dutch_date(born)} (12\u00a0jaar)")).to_be_visible()
    contact.shot("contact-04-signaal-open")
    page.get_by_label("Zoek op naam of groep").fill("5b")
    contact.shot("contact-05-leerkracht-kiezen")
    page.get_by_role("button", name="Juf Anna (groep 5b)").click()
    contact.shot("contact-06-bevestigen")
    confirm(page, "Doorsturen naar Juf Anna (groep 5b)?", "Ja, doorsturen")
    expect(heading(page)).to_have_text("Doorgestuurd")
    chosen = page.get_by_role("listitem").filter(has_text="Juf Anna")
    expect(chosen).to_contain_text("nog niet gezien")
    contact.shot("contact-07-doorgestuurd")

    # The teacher: open once, read the guidance, "Gelezen"; a reload finds it removed.
    teacher.goto("/")
    teacher.shot("leerkracht-03-overzicht-nieuw")
    teacher.page.get_by_role("link", name="Signaal openen").click()
    page = teacher.page
    expect(page.locator(".child-name")).to_have_text(NAME)
    expect(page.get_by_text(dutch_date(born))).to_be_visible()
    expect(page.get_by_text("rustig plekje")).to_be_visible()
    expect(page.get_by_text("De intern begeleider informeert de ouders.")).to_be_visible()
    expect(page.get_by_text("verdwijnt vanzelf")).to_be_visible()
    teacher.shot("leerkracht-04-signaal-open")
    assert NAME not in teacher.storage()
    page.get_by_role("button", name="Gelezen").click()
    confirm(page, "Het signaal wordt nu verwijderd.", "Ja, verwijderen")
    expect(heading(page)).to_have_text("Signaal verwijderd")
    teacher.shot("leerkracht-05-gelezen")
    page.reload()
    expect(heading(page)).to_have_text("Signaal verwijderd")
    expect(page.get_by_text("Dit signaal is verwijderd.")).to_be_visible()
    teacher.shot("leerkracht-06-herladen-verwijderd")
    assert NAME not in page.content()
    assert NAME not in teacher.storage()
    teacher.goto("/")
    expect(page.get_by_text("Geen nieuwe signalen.")).to_be_visible()
    teacher.shot("leerkracht-07-overzicht-leeg")

    # The contact sees the teacher saw it, and finishes.
    contact.page.reload()
    page = contact.page
    expect(page.get_by_role("listitem").filter(has_text="Juf Anna")).to_contain_text("gezien")
    expect(page.get_by_text("nog niet gezien")).to_have_count(0)
    page.get_by_role("button", name="Afronden").click()
    contact.shot("contact-08-afronden-bevestigen")
    confirm(page, "de ouders zijn geïnformeerd", "Ja, afronden")
    expect(heading(page)).to_have_text("Signaal afgerond")
    contact.shot("contact-09-afgerond")
    assert NAME not in page.content()
    contact.goto("/")
    expect(page.get_by_text("Geen nieuwe signalen.")).to_be_visible()
    contact.shot("contact-10-overzicht")

    # The sender saw every step, without the name.
    card = sender_card(sender, ref)
    for step in (
        "afgeleverd op 1 apparaat",
        "geopend door school",
        "doorgestuurd naar 1 leerkracht",
        "gezien door leerkracht",
        "afgerond",
    ):
        expect(card).to_contain_text(step)
    expect(card).to_contain_text("Afgerond")
    sender.shot("verzender-09-overzicht-afgerond")
    assert NAME not in sender.page.content()

    for phone in (sender, contact, teacher):
        assert phone.csp_problems() == []
        phone.close()


def test_not_our_pupil(browser: Any, world: World) -> None:
    school = world.org(name=SCHOOL, place="Utrecht")
    sender = enrol_sender(browser, world)
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    name, born = "Zoë Ömer-de Vries", years_ago(8)
    fill_and_check(sender, name, born)
    # A colleague enrols a phone while the sender checks: the app seals again and retries once.
    colleague = world.member("contact", school)
    ref = send_checked(sender, name, born)
    signal_id = world.db.execute("SELECT id FROM signals WHERE ref = ?", [ref]).fetchone()[0]
    assert colleague.open(signal_id)["name"] == name

    # The school did not act before the deadline: the sender sees a clear flag.
    timers.fire(world.db, "escalated", world.now() + 8 * 86400, world.app.state.timing)
    card = sender_card(sender, ref)
    expect(card).to_contain_text("Let op: de school heeft niet op tijd gereageerd. Bel de school.")
    expect(card).to_contain_text("niet op tijd opgepakt")
    sender.shot("verzender-10-overzicht-te-laat")

    open_pending(contact, ref)
    page = contact.page
    expect(page.locator(".child-name")).to_have_text(name)
    page.get_by_role("button", name="Geen leerling van ons").click()
    contact.shot("contact-11-geen-leerling-bevestigen")
    confirm(page, "Is dit geen leerling van uw school?", "Ja, geen leerling van ons")
    expect(heading(page)).to_have_text("Signaal gesloten")
    contact.shot("contact-12-gesloten")

    card = sender_card(sender, ref)
    expect(card).to_contain_text("Gesloten")
    expect(card).to_contain_text("gesloten: geen leerling van ons")
    sender.shot("verzender-11-overzicht-gesloten")
    for phone in (sender, contact):
        assert phone.csp_problems() == []
        phone.close()


def test_school_without_enrolled_contact_is_to_be_phoned(browser: Any, world: World) -> None:
    world.org(name=SCHOOL, place="Utrecht")
    sender = enrol_sender(browser, world)
    fill_and_check(sender, NAME, years_ago(10))
    expect(sender.page.get_by_role("alert")).to_contain_text(
        "Deze school heeft nog geen aangemeld apparaat. Bel de school."
    )
    expect(heading(sender.page)).to_have_text("Nieuw signaal")
    sender.shot("verzender-12-school-zonder-apparaat")
    assert world.db.execute("SELECT count(*) FROM signals").fetchone()[0] == 0
    sender.close()


def test_second_contact_sees_who_forwarded_and_no_content(browser: Any, world: World) -> None:
    school = world.org(name=SCHOOL, place="Utrecht")
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    first = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    second = enrol_phone(browser, world, "contact", school, name="Bram Directeur")
    teacher = world.member("teacher", school, name="Meester Kees", class_label="groep 8")
    expect(second.page.get_by_text("Geen nieuwe signalen.")).to_be_visible()
    sent = world.send(sender, school, NAME, years_ago(11).isoformat())
    assert sent.status_code == 201, sent.text
    ref, signal_id = sent.json()["ref"], sent.json()["id"]
    # A refresh (a push, the timer, or this button) finds it and says so in the live region.
    second.page.get_by_role("button", name="Vernieuwen").click()
    expect(second.page.locator("#live")).to_have_text("Er is een nieuw signaal.")

    open_pending(first, ref)
    page = first.page
    page.get_by_role("button", name="Meester Kees (groep 8)").click()
    confirm(page, "Doorsturen naar Meester Kees (groep 8)?", "Ja, doorsturen")
    expect(heading(page)).to_have_text("Doorgestuurd")
    assert teacher.open(signal_id)["name"] == NAME  # the teacher's phone can open it

    second.goto("/")
    expect(second.page.get_by_text("Doorgestuurd door Ilse Begeleider")).to_be_visible()
    expect(second.page.get_by_role("link", name=re.compile("openen|afronden"))).to_have_count(0)
    second.shot("contact-13-doorgestuurd-door-collega")
    second.goto(f"/signaal/{signal_id}")
    expect(heading(second.page)).to_have_text("Signaal al doorgestuurd")
    expect(second.page.get_by_text("Doorgestuurd door Ilse Begeleider.")).to_be_visible()
    assert NAME not in second.page.content()
    row = world.db.execute(
        "SELECT count(*) FROM envelopes e JOIN devices d ON d.id = e.device_id "
        "WHERE e.signal_id = ? AND d.person_id = ?",
        [signal_id, second.person_id],
    ).fetchone()
    assert row[0] == 0  # and the server holds no copy for the second contact either
    for phone in (first, second):
        assert phone.csp_problems() == []
        phone.close()


def test_leerplicht_officer_relays_to_the_school(browser: Any, world: World) -> None:
    school = world.org(name=SCHOOL, place="Utrecht")
    office = world.org("leerplicht", "Leerplicht Utrecht", municipalities="Utrecht, Nieuwegein")
    sender = enrol_sender(browser, world)
    officer = enrol_phone(
        browser, world, "officer", office, name="Omar Leerplicht", shot="leerplicht"
    )
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    teacher = enrol_phone(
        browser, world, "teacher", school, name="Juf Anna", class_label="groep 5b"
    )
    born = years_ago(9)
    fill_and_check(
        sender, NAME, born, recipient="Leerplicht Utrecht", query="Nieuwegein", office=True
    )
    ref = send_checked(sender, NAME, born)
    signal_id = world.db.execute("SELECT id FROM signals WHERE ref = ?", [ref]).fetchone()[0]

    officer.goto("/")
    expect(officer.page.get_by_role("link", name=f"Signaal {ref} openen")).to_be_visible()
    officer.shot("leerplicht-03-overzicht")
    officer.page.get_by_role("link", name=f"Signaal {ref} openen").click()
    page = officer.page
    expect(page.locator(".child-name")).to_have_text(NAME)
    page.get_by_role("combobox", name="School").fill("Utrecht")
    page.get_by_role("option", name=re.compile(SCHOOL)).click()
    officer.shot("leerplicht-04-signaal-school-gekozen")
    page.get_by_role("button", name="Doorsturen naar school").click()
    confirm(page, f"Doorsturen naar {SCHOOL}?", "Ja, doorsturen")
    expect(heading(page)).to_have_text("Doorgestuurd naar school")
    officer.shot("leerplicht-05-doorgestuurd")
    assert NAME not in page.content()
    assert NAME not in officer.storage()

    officer.goto("/")
    expect(page.get_by_text(f"Doorgestuurd naar {SCHOOL}")).to_be_visible()
    page.get_by_role("link", name="Nieuw signaal versturen").click()
    expect(heading(page)).to_have_text("Nieuw signaal")
    expect(page.get_by_text("Nog geen verstuurde signalen.")).to_be_visible()
    officer.shot("leerplicht-06-nieuw-signaal")

    # The school takes it from there: the contact forwards, the teacher reads, it is finished.
    contact.goto("/")
    contact.page.get_by_role("link", name=f"Signaal {ref} openen").click()
    expect(contact.page.locator(".child-name")).to_have_text(NAME)
    contact.page.get_by_role("button", name="Juf Anna (groep 5b)").click()
    confirm(contact.page, "Doorsturen naar Juf Anna (groep 5b)?", "Ja, doorsturen")
    expect(heading(contact.page)).to_have_text("Doorgestuurd")
    teacher.goto("/")
    teacher.page.get_by_role("link", name="Signaal openen").click()
    expect(teacher.page.locator(".child-name")).to_have_text(NAME)
    teacher.page.get_by_role("button", name="Gelezen").click()
    confirm(teacher.page, "Het signaal wordt nu verwijderd.", "Ja, verwijderen")
    expect(heading(teacher.page)).to_have_text("Signaal verwijderd")
    contact.page.reload()
    contact.page.get_by_role("button", name="Afronden").click()
    confirm(contact.page, "de ouders zijn geïnformeerd", "Ja, afronden")
    expect(heading(contact.page)).to_have_text("Signaal afgerond")

    card = sender_card(sender, ref)
    for step in (
        "afgeleverd op 1 apparaat",
        "geopend door leerplicht",
        "doorgestuurd naar school (1 apparaat)",
        "geopend door school",
        "doorgestuurd naar 1 leerkracht",
        "gezien door leerkracht",
        "afgerond",
    ):
        expect(card).to_contain_text(step)
    expect(card).to_contain_text(f"Aan: {SCHOOL} (via leerplicht)")
    sender.shot("verzender-13-overzicht-via-leerplicht")
    for phone in (sender, officer, contact, teacher):
        assert phone.csp_problems() == []
        assert NAME not in phone.storage()
        phone.close()
    # Forensic: after the whole leerplicht route no envelope is left, and the name is in no
    # byte the server keeps.
    assert (
        world.db.execute(
            "SELECT count(*) FROM envelopes WHERE signal_id = ?", [signal_id]
        ).fetchone()[0]
        == 0
    )
    world.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = b"".join(
        path.read_bytes() for path in Path(world.app.state.settings.database).parent.glob("hwc.db*")
    )
    for needle in (
        NAME.encode(),
        NAME.encode("utf-16-le"),
        NAME.encode("utf-16-be"),
        born.isoformat().encode(),
    ):
        assert needle not in stored


def test_officer_closes_not_in_municipality(browser: Any, world: World) -> None:
    office = world.org("leerplicht", "Leerplicht Utrecht", municipalities="Utrecht")
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    officer = enrol_phone(browser, world, "officer", office, name="Omar Leerplicht")
    sent = world.send(sender, office, NAME, years_ago(9).isoformat())
    ref = sent.json()["ref"]
    open_pending(officer, ref)
    page = officer.page
    page.get_by_role("button", name="Geen leerling in onze gemeente").click()
    confirm(page, "Geen leerling in uw gemeente?", "Ja, geen leerling van ons")
    expect(heading(page)).to_have_text("Signaal gesloten")
    officer.shot("leerplicht-07-gesloten")
    state = world.db.execute(
        "SELECT state, close_reason FROM signals WHERE ref = ?", [ref]
    ).fetchone()
    assert tuple(state) == ("closed", "not_in_municipality")
    officer.close()


def test_spent_link_is_refused_and_stores_nothing(browser: Any, world: World) -> None:
    school = world.org()
    person = world.person("contact", school, name="Ilse Begeleider")
    token = world.enrol_link_token(person)
    first = new_phone(browser, world.url)
    first.goto(f"/aanmelden#{token}")
    first.page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(heading(first.page)).to_have_text("Dit apparaat is aangemeld")
    first.close()

    again = new_phone(browser, world.url)
    again.goto(f"/aanmelden#{token}")
    again.page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(again.page.get_by_role("alert")).to_contain_text("Deze aanmeldlink werkt niet (meer).")
    again.shot("algemeen-aanmeldlink-gebruikt")
    assert not again.has_device_key()
    again.goto("/")
    expect(heading(again.page)).to_have_text("Niet aangemeld")
    again.close()


def test_device_without_its_key_is_told_to_ask_for_a_new_link(browser: Any, world: World) -> None:
    school = world.org()
    phone = enrol_phone(browser, world, "teacher", school, name="Juf Anna", class_label="groep 5b")
    expect(heading(phone.page)).to_have_text("Signalen")
    assert phone.has_device_key()
    phone.page.evaluate("""() => new Promise((done, fail) => {
      const request = indexedDB.deleteDatabase('hwc-device');
      request.onsuccess = () => done(); request.onerror = fail; request.onblocked = fail;
    })""")
    phone.page.reload()
    expect(heading(phone.page)).to_have_text("Niet aangemeld")
    expect(
        phone.page.get_by_text("Vraag uw beheerder of intern begeleider om een nieuwe aanmeldlink.")
    ).to_be_visible()
    # The app told the server, so the admin sees the lost key and nobody encrypts to it.
    row = world.db.execute(
        "SELECT d.key_state, d.revoked_at FROM devices d JOIN people p "
        "ON p.id = d.person_id WHERE p.name = 'Juf Anna'"
    ).fetchone()
    assert row[0] == "lost" and row[1] is not None
    phone.close()


def test_admin_gets_a_link_to_the_admin_pages(browser: Any, world: World) -> None:
    admin = enrol_phone(browser, world, "admin", None, name="Bea Beheer", shot="beheer")
    expect(heading(admin.page)).to_have_text("Beheer")
    link = admin.page.get_by_role("link", name="Naar het beheer")
    expect(link).to_have_attribute("href", "/admin")
    admin.shot("beheer-03-start")
    admin.close()
