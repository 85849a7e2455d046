"""Issue 21, "the people at 07:45": what got in the way of people who had not seen the app
before, played in Chromium at phone size — times from settings, forms that let go of their
errors, phone numbers, forwarding in three taps, the teacher's other device, offline lists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser import enrol_phone, years_ago
from tests.conftest import live_world
from tests.support import World
from tests.test_browser_story import NAME, SCHOOL, enrol_sender, heading


def test_grace_period_text_follows_the_setting(browser: Any, tmp_path: Path) -> None:
    with live_world(tmp_path / "hwc.db", view_grace_minutes=1, enrol_token_days=1) as world:
        school = world.org(name=SCHOOL, place="Utrecht")
        sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
        contact = world.member("contact", school)
        teacher = enrol_phone(browser, world, "teacher", school, name="Juf Anna",
                              class_label="groep 5b")
        born = years_ago(9).isoformat()
        signal_id = world.send(sender, school, NAME, born).json()["id"]
        contact.open(signal_id)
        forwarded = world.forward(contact, signal_id, school, [teacher.person_id], NAME, born)
        assert forwarded.status_code == 200, forwarded.text

        page = teacher.page
        page.clock.install()  # in-page timers under the test's control, time still running
        teacher.goto(f"/signaal/{signal_id}")
        expect(page.locator(".child-name")).to_have_text(NAME)
        expect(page.get_by_text(re.compile(r"verdwijnt vanzelf om \d\d:\d\d, 1 minuut na "
                                           r"openen\."))).to_be_visible()
        expect(page.get_by_text("10 minuten")).to_have_count(0)
        teacher.shot("leerkracht-08-een-minuut")
        # The screen lets go of the content when the server does, and says after how long.
        page.clock.run_for(61_000)
        expect(heading(page)).to_have_text("Signaal verwijderd")
        expect(page.get_by_text("Het signaal is na 1 minuut vanzelf verwijderd.")).to_be_visible()
        assert NAME not in page.content()

        # The enrolment link's note on the contact's own page follows HWC_ENROL_TOKEN_DAYS.
        school_page = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
        school_page.goto("/admin/school")
        expect(school_page.page.locator("#aanmeldlink")).to_contain_text("verloopt na 1 dag.")
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
