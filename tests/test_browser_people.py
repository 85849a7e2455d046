"""Issue 21, "the people at 07:45": what got in the way of people who had not seen the app
before, played in Chromium at phone size — times from settings, forms that let go of their
errors, phone numbers, forwarding in three taps, the teacher's other device, offline lists."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from server import timers
from server.pushworker import payload
from tests.browser import Phone, answer_on, enrol_pending, enrol_phone, new_phone, years_ago
from tests.conftest import live_world
from tests.support import Device, World
from tests.test_browser_push import NOTIFICATIONS_JS, _registration_id
from tests.test_browser_story import (
    NAME,
    SCHOOL,
    confirm,
    enrol_sender,
    fill_and_check,
    heading,
    open_pending,
    sender_card,
)
from tests.test_timers import SUBSCRIPTION


def _at_teacher(world: World, sender: Device, contact: Device, school: str, teacher_id: str) -> str:
    """A signal sent, opened by the contact and forwarded to the teacher (over the API)."""
    born = years_ago(9).isoformat()
    signal_id = world.send(sender, school, NAME, born).json()["id"]
    contact.open(signal_id)
    forwarded = world.forward(contact, signal_id, school, [teacher_id], NAME, born)
    assert forwarded.status_code == 200, forwarded.text
    return str(signal_id)


def test_durations_in_texts_follow_the_settings(browser: Any, tmp_path: Path) -> None:
    with live_world(tmp_path / "hwc.db", view_grace_minutes=1, enrol_token_days=1) as world:
        school = world.org(name=SCHOOL, place="Utrecht")
        sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
        contact = world.member("contact", school)
        teacher = enrol_phone(
            browser, world, "teacher", school, name="Juf Anna", class_label="groep 5b"
        )
        _at_teacher(world, sender, contact, school, teacher.person_id)

        # The teacher's card says how long the copy stays, from HWC_VIEW_GRACE_MINUTES.
        teacher.goto("/")
        expect(
            teacher.page.get_by_text("Na het openen staat het 1 minuut op uw scherm")
        ).to_be_visible()
        expect(teacher.page.get_by_text("10 minuten")).to_have_count(0)
        teacher.shot("leerkracht-08-een-minuut")

        # The enrolment link's note follows HWC_ENROL_TOKEN_DAYS: on the contact's own page,
        # and where the app makes a teacher's link.
        school_page = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
        school_page.goto("/admin/school")
        expect(school_page.page.locator("#aanmeldlink")).to_contain_text("verloopt na 1 dag.")
        world.person("teacher", school, name="Meester Piet", class_label="groep 3")
        signal_id = world.send(sender, school, NAME, years_ago(9).isoformat()).json()["id"]
        school_page.goto(f"/signaal/{signal_id}")
        page = school_page.page
        page.get_by_role("button", name="Meester Piet (groep 3) nog geen apparaat").click()
        page.get_by_role("dialog").get_by_role("button", name="Aanmeldlink maken").click()
        expect(page.get_by_text(re.compile(r"verloopt na 1 dag\."))).to_be_visible()
        for phone in (teacher, school_page):
            assert phone.csp_problems() == []
            phone.close()


def test_form_errors_go_when_the_field_is_right(browser: Any, world: World) -> None:
    world.org(name=SCHOOL, place="Utrecht")
    sender = enrol_sender(browser, world)
    page = sender.page
    page.get_by_role("button", name="Controleren").click()
    name = page.get_by_label("Naam van het kind")
    day, month, year = (page.get_by_label(part, exact=True) for part in ("Dag", "Maand", "Jaar"))
    school = page.get_by_role("combobox", name="School")
    # Screen readers hear which fields are wrong, and why (the message describes the field).
    for field in (school, name, day, month, year):
        expect(field).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description("Vul de naam van het kind in.")
    expect(day).to_have_accessible_description(re.compile("Vul de geboortedatum in."))
    sender.shot("verzender-14-formulier-fouten-aria")

    name.fill("Xylofoon 42")  # still wrong: the message says what is wrong now
    expect(page.get_by_text("Gebruik alleen letters")).to_be_visible()
    expect(name).to_have_attribute("aria-invalid", "true")
    name.fill(NAME)  # right: the message and the invalid mark go at once, no new "Controleren"
    expect(page.get_by_text("Vul de naam van het kind in.")).to_have_count(0)
    expect(page.get_by_text("Gebruik alleen letters")).to_have_count(0)
    expect(name).not_to_have_attribute("aria-invalid", re.compile(".*"))

    born = years_ago(10)
    day.fill(str(born.day))
    month.fill(str(born.month))
    expect(page.get_by_text("Dit is geen bestaande datum", exact=False)).to_be_visible()
    year.fill(str(born.year))
    expect(page.locator(".field-error:visible")).to_have_count(1)  # only the school's is left
    for field in (day, month, year):
        expect(field).not_to_have_attribute("aria-invalid", re.compile(".*"))
    school.fill("regenboog")
    page.get_by_role("option", name=re.compile(SCHOOL)).click()
    expect(page.locator(".field-error:visible")).to_have_count(0)
    expect(school).not_to_have_attribute("aria-invalid", re.compile(".*"))
    sender.shot("verzender-15-formulier-hersteld")
    assert sender.csp_problems() == []
    sender.close()


def test_phone_numbers_are_tel_links_wherever_someone_must_phone(
    browser: Any, world: World
) -> None:
    school = world.org(name=SCHOOL, place="Utrecht", phone="030 123 45 67")
    veilig_thuis = world.org("veilig_thuis", "Veilig Thuis Utrecht", phone="0800-2000")
    sender = enrol_phone(browser, world, "sender", veilig_thuis, name="Sanne Verzender")

    # No enrolled contact yet: the sender is told to phone, and can, with one tap.
    fill_and_check(sender, NAME, years_ago(10))
    alert = sender.page.get_by_role("alert")
    expect(alert).to_contain_text(
        "Deze school heeft nog geen aangemeld apparaat. Bel de school: 030 123 45 67."
    )
    expect(alert.get_by_role("link", name="030 123 45 67")).to_have_attribute(
        "href", "tel:0301234567"
    )
    sender.shot("verzender-16-bel-de-school-nummer")

    # The school did not act in time: the flag on the sender's card has the number too.
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    ref = world.send(
        world.member("sender", veilig_thuis), school, NAME, years_ago(10).isoformat()
    ).json()["ref"]
    timers.fire(world.db, "escalated", world.now() + 8 * 86400, world.app.state.timing)
    card = sender_card(sender, ref)
    expect(card.locator(".flag")).to_have_text(
        "Let op: de school heeft niet op tijd gereageerd. Bel de school: 030 123 45 67."
    )
    expect(card.get_by_role("link", name="030 123 45 67")).to_have_attribute(
        "href", "tel:0301234567"
    )
    sender.shot("verzender-17-te-laat-met-nummer")

    # The school, with a question about the signal, can phone the sender.
    open_pending(contact, ref)
    expect(contact.page.locator(".child-name")).to_have_text(NAME)
    expect(
        contact.page.get_by_text("Vragen over dit signaal? Bel Veilig Thuis Utrecht: 0800-2000.")
    ).to_be_visible()
    expect(contact.page.get_by_role("link", name="0800-2000")).to_have_attribute(
        "href", "tel:08002000"
    )
    contact.shot("contact-14-signaal-met-nummer-melder")

    # The admin keeps the numbers in the directory: on the organisation's page and by CSV.
    admin = enrol_phone(browser, world, "admin", None, name="Bea Beheer")
    admin.goto(f"/admin/orgs/{school}")
    field = admin.page.get_by_label("Telefoonnummer")
    expect(field).to_have_value("030 123 45 67")
    field.fill("030 765 43 21")
    with admin.page.expect_navigation():
        admin.page.get_by_role("button", name="Telefoonnummer opslaan").click()
    expect(admin.page.get_by_label("Telefoonnummer")).to_have_value("030 765 43 21")
    admin.goto("/admin")
    expect(admin.page.get_by_text("030 765 43 21")).to_be_visible()
    admin.page.get_by_text("Scholen importeren (DUO-register of CSV)").click()
    admin.page.get_by_role("textbox", name="Scholen", exact=True).fill(
        "name,place,code,region,phone\nDe Linde,Zeist,99ZZ00,midden,030 999 00 11\n"
    )
    with admin.page.expect_navigation():
        admin.page.get_by_role("button", name="Importeren").first.click()
    expect(admin.page.get_by_text("030 999 00 11")).to_be_visible()
    assert (
        world.db.execute("SELECT phone FROM orgs WHERE code = '99ZZ00'").fetchone()[0]
        == "030 999 00 11"
    )
    for phone in (sender, contact, admin):
        assert phone.csp_problems() == []
        phone.close()


def _notification_for(phone: Phone, world: World, kind: str, signal_id: str) -> None:
    """A push as the worker sends it, delivered to the phone's service worker; it shows."""
    phone.context.grant_permissions(["notifications"], origin=world.url)
    cdp, registration_id = _registration_id(phone)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": world.url,
            "registrationId": registration_id,
            "data": payload(world.url, kind, signal_id),
        },
    )
    [shown] = phone.page.evaluate(NOTIFICATIONS_JS)
    assert shown["tag"] == signal_id and NAME not in str(shown)


def _tap_notification(phone: Phone) -> None:
    phone.context.service_workers[0].evaluate("""async () => {
      const [n] = await self.registration.getNotifications();
      self.dispatchEvent(new NotificationEvent('notificationclick', {notification: n}));
    }""")


def test_forward_in_three_taps_from_the_notification(browser: Any, world: World) -> None:
    school = world.org(name=SCHOOL, place="Utrecht")
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    anna = world.member("teacher", school, name="Juf Anna", class_label="groep 5b")
    kees = world.member("teacher", school, name="Meester Kees", class_label="groep 5b")
    world.member("teacher", school, name="Juf Fatima", class_label="groep 7")
    born = years_ago(9).isoformat()
    signal_id = world.send(sender, school, NAME, born).json()["id"]
    _notification_for(contact, world, "new_signal", signal_id)
    contact.goto("/toegankelijkheid")  # the phone was elsewhere when the notification came
    page = contact.page
    taps = 0

    def tap(target: Any) -> None:
        nonlocal taps
        taps += 1
        target() if callable(target) else target.click()

    tap(lambda: _tap_notification(contact))
    page.wait_for_url(f"{world.url}/signaal/{signal_id}")
    expect(page.locator(".child-name")).to_have_text(NAME)
    # The signal screen itself lists the school's teachers, with a filter on name and group.
    teachers = page.locator(".teacher-list")
    expect(teachers.get_by_role("button")).to_have_count(3)
    page.get_by_label("Zoek op naam of groep").fill("5B")
    expect(teachers.get_by_role("button", name="Juf Fatima")).to_be_hidden()
    expect(teachers.get_by_role("button", name="Meester Kees (groep 5b)")).to_be_visible()
    page.get_by_label("Zoek op naam of groep").fill("")
    contact.shot("contact-15-signaal-met-leerkrachten")
    tap(teachers.get_by_role("button", name="Juf Anna (groep 5b)"))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Doorsturen naar Juf Anna (groep 5b)?")
    contact.shot("contact-16-bevestigen-een-tik")
    tap(dialog.get_by_role("button", name="Ja, doorsturen"))
    expect(heading(page)).to_have_text("Doorgestuurd")
    expect(page.get_by_text("Doorgestuurd naar Juf Anna (groep 5b).")).to_be_visible()
    assert taps == 3
    assert anna.open(signal_id)["name"] == NAME
    contact.shot("contact-17-doorgestuurd-in-drie-tikken")

    # A duo-baan: the confirmation adds the second teacher.
    second_id = world.send(sender, school, NAME, born).json()["id"]
    contact.goto(f"/signaal/{second_id}")
    page.locator(".teacher-list").get_by_role("button", name="Juf Anna (groep 5b)").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Duo-baan? Ook naar").select_option(label="Meester Kees (groep 5b)")
    contact.shot("contact-18-duobaan")
    dialog.get_by_role("button", name="Ja, doorsturen").click()
    expect(
        page.get_by_text("Doorgestuurd naar Juf Anna (groep 5b) en Meester Kees (groep 5b).")
    ).to_be_visible()
    assert kees.open(second_id)["name"] == NAME and anna.open(second_id)["name"] == NAME
    assert contact.csp_problems() == []
    contact.close()


def test_a_teacher_without_a_device_is_listed_with_a_next_step(browser: Any, world: World) -> None:
    school = world.org(name=SCHOOL, place="Utrecht")
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    piet = world.person("teacher", school, name="Meester Piet", class_label="groep 3")
    world.person("teacher", school, name="Juf Els", class_label="groep 4")
    born = years_ago(7).isoformat()
    signal_id = world.send(sender, school, NAME, born).json()["id"]
    contact.goto(f"/signaal/{signal_id}")
    page = contact.page
    missing = page.get_by_role("button", name="Meester Piet (groep 3) nog geen apparaat")
    expect(missing).to_have_class(re.compile("teacher-missing"))
    contact.shot("contact-19-leerkracht-zonder-apparaat")

    # The contact makes the teacher's enrolment link right there; the teacher scans it.
    missing.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Meester Piet heeft nog geen apparaat")
    contact.shot("contact-20-nog-geen-apparaat")
    dialog.get_by_role("button", name="Aanmeldlink maken").click()
    expect(heading(page)).to_have_text("Aanmeldlink voor Meester Piet")
    _assert_qr_drawn(page.locator(".qr svg"))
    expect(page.get_by_text(re.compile("verloopt na 7 dagen"))).to_be_visible()
    contact.shot("contact-21-aanmeldlink-leerkracht")
    link = page.locator(".enrol-link").text_content() or ""
    assert re.fullmatch(rf"{re.escape(world.url)}/aanmelden#\S+", link), link
    assert NAME not in page.content()
    teacher = new_phone(browser, world.url)
    teacher.page.goto(link)
    teacher.page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(heading(teacher.page)).to_have_text("Dit apparaat is aangemeld")
    page.get_by_role("button", name="Terug naar het signaal").click()
    expect(page.locator(".child-name")).to_have_text(NAME)
    expect(page.get_by_role("button", name="Meester Piet (groep 3)")).not_to_have_class(
        re.compile("teacher-missing")
    )

    # Or the contact tells the teacher in person, from the same place.
    page.get_by_role("button", name="Juf Els (groep 4) nog geen apparaat").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Ik vertel het de leerkracht zelf").click()
    confirm(page, "Vertelt u het de leerkracht zelf?", "Ja, ik vertel het zelf")
    expect(heading(page)).to_have_text("Signaal gesloten")
    assert world.db.execute(
        "SELECT state, close_reason FROM signals WHERE id = ?", [signal_id]
    ).fetchone()[:] == ("closed", "told_in_person")
    assert piet == teacher.page.evaluate("fetch('/api/me').then(r => r.json())")["person"]["id"]
    for phone in (contact, teacher):
        assert phone.csp_problems() == []
        phone.close()


def _enrol_labelled(
    browser: Any, world: World, person_id: str, label: str, approver: Phone | None = None
) -> Phone:
    """A device enrolled by link; a person's further device is approved on `approver`."""
    if approver is not None:
        phone, code = enrol_pending(browser, world, world.enrol_link_token(person_id), label)
        answer_on(approver, code, "Toestaan")
        phone.page.get_by_role("button", name="Opnieuw kijken").click()
        expect(heading(phone.page)).not_to_have_text("Wacht op goedkeuring")
        return phone
    phone = new_phone(browser, world.url)
    phone.goto(f"/aanmelden#{world.enrol_link_token(person_id)}")
    phone.page.get_by_label("Naam van dit apparaat").fill(label)
    phone.page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(heading(phone.page)).to_have_text("Dit apparaat is aangemeld")
    phone.page.get_by_role("button", name="Verder naar de app").click()
    return phone


def test_the_teachers_other_device_says_where_it_was_opened(browser: Any, world: World) -> None:
    school = world.org(name=SCHOOL, place="Utrecht")
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    contact = world.member("contact", school)
    teacher = world.person("teacher", school, name="Juf Anna", class_label="groep 5b")
    phone = _enrol_labelled(browser, world, teacher, "Telefoon")
    tablet = _enrol_labelled(browser, world, teacher, "Tablet", approver=phone)
    signal_id = _at_teacher(world, sender, contact, school, teacher)
    _notification_for(tablet, world, "teacher_signal", signal_id)

    phone.goto(f"/signaal/{signal_id}")
    expect(phone.page.locator(".child-name")).to_have_text(NAME)
    viewed_at = world.db.execute(
        "SELECT viewed_at FROM signal_teachers WHERE signal_id = ?", [signal_id]
    ).fetchone()[0]
    at = datetime.fromtimestamp(viewed_at, UTC).astimezone(ZoneInfo("Europe/Amsterdam"))

    # The old notification on the tablet leads to what happened, not to a bare "removed".
    _tap_notification(tablet)
    tablet.page.wait_for_url(f"{world.url}/signaal/{signal_id}")
    expect(heading(tablet.page)).to_have_text("Signaal verwijderd")
    expect(tablet.page.get_by_text(f"Geopend op ‘Telefoon’ om {at:%H:%M}.")).to_be_visible()
    tablet.shot("leerkracht-09-geopend-op-ander-apparaat")
    assert NAME not in tablet.page.content()

    # A notification still up when the tablet's app opens its list is closed there too.
    second_id = _at_teacher(world, sender, contact, school, teacher)
    _notification_for(tablet, world, "teacher_signal", second_id)
    phone.goto(f"/signaal/{second_id}")
    expect(phone.page.locator(".child-name")).to_have_text(NAME)
    tablet.goto("/")
    expect(tablet.page.get_by_text("Geen nieuwe signalen.")).to_be_visible()
    tablet.page.wait_for_function("""async () => (await (await navigator.serviceWorker.ready)
      .getNotifications()).length === 0""")
    for each in (phone, tablet):
        assert each.csp_problems() == []
        each.close()


def _assert_qr_drawn(svg: Any) -> None:
    """An SVG element the browser draws (a bare <svg> parsed as XML is no image at all)."""
    expect(svg).to_be_visible()
    assert svg.evaluate("e => e.namespaceURI") == "http://www.w3.org/2000/svg"
    box = svg.bounding_box()
    assert box and box["width"] >= 150 and box["height"] >= 150, box


def _scroll_width(phone: Phone) -> tuple[int, int]:
    return tuple(
        phone.page.evaluate(  # type: ignore[return-value]
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
    )


def test_admin_pages_fit_a_phone(browser: Any, world: World) -> None:
    school = world.org(
        name="Openbare Basisschool De Wilgenhoeve-Zuid", place="Utrecht", phone="030 123 45 67"
    )
    office = world.org(
        "leerplicht",
        "Leerplicht Utrechtse Heuvelrug",
        municipalities="Utrechtse Heuvelrug, Wijk bij Duurstede, Zeist",
    )
    teacher = world.person(
        "teacher", school, name="Annemarie van Oostveen-Hoogenboom", class_label="groep 5b"
    )
    world.device(teacher)
    admin = enrol_phone(browser, world, "admin", None, name="Bea Beheer")
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    pages = [
        (admin, "/admin"),
        (admin, f"/admin/orgs/{school}"),
        (admin, f"/admin/orgs/{office}"),
        (contact, "/admin/school"),
    ]
    for width in (320, 390):
        for phone, path in pages:
            phone.page.set_viewport_size({"width": width, "height": 844})
            phone.goto(path)
            for summary in phone.page.locator("summary").all():
                summary.click()  # every form open, as wide as the page ever gets
            assert _scroll_width(phone) == (width, width), (path, width)
        # With an enrolment link and its QR code on screen.
        contact.page.get_by_role("button", name="Aanmeldlink maken").first.click()
        _assert_qr_drawn(contact.page.locator("#aanmeldlink svg"))
        assert _scroll_width(contact) == (width, width), ("aanmeldlink", width)
    contact.page.set_viewport_size({"width": 320, "height": 844})
    contact.shot("beheer-04-school-320px")
    # Still printable: on paper only the link sheet with its QR code.
    contact.page.emulate_media(media="print")
    expect(contact.page.locator("#aanmeldlink svg")).to_be_visible()
    expect(contact.page.locator(".people")).to_be_hidden()
    for phone in (admin, contact):
        assert phone.csp_problems() == []
        phone.close()


def test_quiet_hours_on_the_check_screen_and_the_device_screen(
    browser: Any, tmp_path: Path
) -> None:
    # Quiet hours around this very moment, so the real clocks of server and browser agree.
    now = datetime.now(ZoneInfo("Europe/Amsterdam"))
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    with live_world(tmp_path / "hwc.db", quiet_hours=f"{start:%H:%M}-{end:%H:%M}") as world:
        school = world.org(name=SCHOOL, place="Utrecht")
        world.device(world.person("contact", school), push=SUBSCRIPTION)
        sender = enrol_sender(browser, world)
        fill_and_check(sender, NAME, years_ago(10))
        expect(heading(sender.page)).to_have_text("Controleer het signaal")
        expect(
            sender.page.get_by_text(
                re.compile(rf"^De school krijgt (vandaag|morgen) om {end:%H:%M} een melding")
            )
        ).to_be_visible()
        sender.shot("verzender-18-controleren-nachtrust")

        contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
        quiet = contact.page.get_by_label("Nachtrust voor meldingen")
        expect(quiet).to_have_value("")
        expect(quiet.locator("option:checked")).to_have_text(
            f"Standaard: {start:%H:%M}–{end:%H:%M}"
        )
        quiet.select_option(label="Altijd direct")
        expect(contact.page.get_by_text("Opgeslagen.")).to_be_visible()
        row = world.db.execute(
            "SELECT quiet_hours FROM devices d JOIN people p ON "
            "p.id = d.person_id WHERE p.name = 'Ilse Begeleider'"
        ).fetchone()
        assert row[0] == "off"
        contact.page.reload()
        expect(contact.page.get_by_label("Nachtrust voor meldingen")).to_have_value("off")
        contact.page.get_by_label("Nachtrust voor meldingen").select_option("22:00-07:00")
        expect(contact.page.get_by_text("Opgeslagen.")).to_be_visible()
        contact.shot("contact-22-nachtrust")
        # The sender's own screen has no quiet hours: escalations reach them at once.
        expect(sender.page.get_by_label("Nachtrust voor meldingen")).to_have_count(0)
        for phone in (sender, contact):
            assert phone.csp_problems() == []
            phone.close()


def test_offline_home_shows_the_last_list(browser: Any, world: World) -> None:
    school = world.org(name=SCHOOL, place="Utrecht")
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    ref = world.send(sender, school, NAME, years_ago(9).isoformat()).json()["ref"]
    page = contact.page
    contact.goto("/")
    expect(page.get_by_role("link", name=f"Signaal {ref} openen")).to_be_visible()
    contact.wait_for_service_worker()
    fetched = datetime.now(ZoneInfo("Europe/Amsterdam"))

    contact.context.set_offline(True)
    page.reload()
    expect(heading(page)).to_have_text("Signalen voor uw school")
    notice = page.get_by_role("status").filter(has_text="Geen verbinding")
    expect(notice).to_contain_text(
        re.compile(
            r"Geen verbinding — bijgewerkt om "
            rf"({fetched:%H:%M}|\d\d:\d\d)\."
        )
    )
    expect(notice).to_contain_text("Een signaal openen of versturen kan pas weer met verbinding.")
    expect(page.get_by_text(ref)).to_be_visible()  # the list it had, no child's data in it
    contact.shot("contact-23-offline-lijst")
    kept = contact.storage()
    assert ref in kept and NAME not in kept
    assert "Ilse Begeleider" not in kept  # names are taken out of what is kept
    # Opening needs the connection, and says so.
    page.get_by_role("link", name=f"Signaal {ref} openen").click()
    expect(page.get_by_text("Geen verbinding. Controleer uw internet")).to_be_visible()

    # The admin pages: the app's own offline page, not the browser's.
    contact.goto("/admin/school")
    expect(heading(page)).to_have_text("Geen verbinding")
    expect(page.get_by_text("Het beheer werkt alleen met verbinding.")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "nl"
    contact.shot("beheer-05-offline")

    # Back online: the list is live again, without the notice.
    contact.context.set_offline(False)
    contact.goto("/")
    expect(page.get_by_role("link", name=f"Signaal {ref} openen")).to_be_visible()
    expect(page.get_by_text("Geen verbinding")).to_have_count(0)
    assert contact.csp_problems() == []
    contact.close()


def test_the_signal_screen_reads_one_signal_not_the_list(browser: Any, world: World) -> None:
    """The contact's signal screen and its forward ask GET /api/signals/{id}, never the whole
    list; another school's contact reads that the signal is not there (404 alike)."""
    school = world.org(name=SCHOOL, place="Utrecht")
    other = world.org(name="Basisschool Elders", place="Utrecht")
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    stranger = enrol_phone(browser, world, "contact", other, name="Piet Elders")
    world.member("teacher", school, name="Juf Anna", class_label="groep 5b")
    signal_id = world.send(sender, school, NAME, years_ago(9).isoformat()).json()["id"]
    asked: list[str] = []
    contact.page.on("request", lambda request: asked.append(request.url.removeprefix(world.url)))
    contact.goto(f"/signaal/{signal_id}")
    page = contact.page
    expect(page.locator(".child-name")).to_have_text(NAME)
    page.locator(".teacher-list").get_by_role("button", name="Juf Anna (groep 5b)").click()
    page.get_by_role("dialog").get_by_role("button", name="Ja, doorsturen").click()
    expect(page.get_by_text("Doorgestuurd naar Juf Anna (groep 5b).")).to_be_visible()
    expect(page.get_by_text("Juf Anna (groep 5b): nog niet gezien")).to_be_visible()
    # Once for the screen, once for the state after forwarding.
    assert asked.count(f"/api/signals/{signal_id}") == 2, asked
    assert "/api/signals" not in asked, asked
    stranger.goto(f"/signaal/{signal_id}")
    expect(stranger.page.get_by_text("Dit signaal is er niet (meer).")).to_be_visible()
    for phone in (contact, stranger):
        assert phone.csp_problems() == []
        phone.close()
