"""Every role's task with the keyboard only, in Chromium (issue 26): Tab, Shift+Tab, Enter, Space
and the arrow keys, never a click. After each action focus is somewhere meaningful (never the
page body), each status and error is in a live region, confirmations start on the safe choice,
and stand-alone targets are at least 24 by 24 px."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import REF, Phone, axe_violations, enrol_phone, new_phone, years_ago
from tests.conftest import live_world
from tests.support import World
from tests.test_browser_shell import FAKE_SUBSCRIPTION_JS

NAME = "Xylofoon Quaggazwemmer"
SCHOOL = "Basisschool De Regenboog"
MAX_TABS = 80

ACTIVE_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const text = (t) => (t || '').replace(/\\s+/g, ' ').trim();
  const label = el.getAttribute('aria-label') || (el.labels && el.labels.length ?
    text(el.labels[0].textContent) : '') || text(el.textContent);
  return {tag: el.tagName.toLowerCase(), name: text(label), id: el.id || ''};
}"""

OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"

IN_LIVE_REGION_JS = """(el) => Boolean(el.closest(
  '[aria-live]:not([aria-live="off"]), [role="status"], [role="alert"], [role="log"]'))"""

# Interactive elements under 24 x 24 CSS px, apart from links inside a sentence (WCAG 2.5.8).
SMALL_TARGETS_JS = """() => [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary')]
  .filter((el) => el.getClientRects().length && !el.closest('[hidden], .visually-hidden'))
  .filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width < 24 || box.height < 24;
  })
  .filter((el) => {
    const inline = getComputedStyle(el).display === 'inline';
    const own = el.textContent.trim().length;
    return !(inline && el.parentElement.textContent.trim().length > own);
  })
  .map((el) => el.outerHTML.slice(0, 90))"""


# --- keyboard helpers -----------------------------------------------------------------------


def focused(page: Page) -> dict | None:
    return page.evaluate(ACTIVE_JS)  # type: ignore[no-any-return]


def focus_is_meaningful(page: Page) -> dict:
    """Focus has settled on an element, never the body: returns that element."""
    try:
        page.wait_for_function(f"() => ({ACTIVE_JS})() !== null", timeout=3000)
    except PlaywrightTimeout:
        raise AssertionError("focus is on the page body") from None
    active = focused(page)
    assert active is not None, "focus is on the page body"
    return active


def tab_to(page: Page, name: str | re.Pattern[str], backwards: bool = False) -> dict:
    """Press Tab (or Shift+Tab) until the focused element's name matches; returns it."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        active = focused(page)
        if active and (
            re.search(name, active["name"])
            if isinstance(name, re.Pattern)
            else active["name"] == name
        ):
            return active
    raise AssertionError(f"no element named {name!r} within {MAX_TABS} tabs")


def activate(page: Page, name: str | re.Pattern[str], key: str = "Enter") -> None:
    tab_to(page, name)
    page.keyboard.press(key)


def type_into(page: Page, name: str, text: str) -> None:
    tab_to(page, name)
    page.keyboard.type(text)


def heading_has_focus(page: Page, text: str) -> None:
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(text)
    expect(heading).to_be_focused()


def in_live_region(locator: Locator) -> None:
    expect(locator).to_be_visible()
    assert locator.evaluate(IN_LIVE_REGION_JS), f"not in a live region: {locator}"


def describes_focused_field(page: Page, error: Locator) -> None:
    """An error about one field: the field has focus, is invalid and is described by it, so
    it is read out with the field."""
    expect(error).to_be_visible()
    field = page.locator(":focus")
    expect(field).to_have_attribute("aria-invalid", re.compile("^(true|)$"))
    described = (field.get_attribute("aria-describedby") or "").split()
    assert error.get_attribute("id") in described, (error.get_attribute("id"), described)


def cancel_then_reopen(page: Page, opener: str, key: str) -> None:
    """Open a confirmation from the button `opener`, cancel it with `key` (Enter on the focused
    "Annuleren", or Escape): focus is back on that button; Enter opens it again."""
    activate(page, opener)
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Annuleren")).to_be_focused()
    page.keyboard.press(key)
    expect(dialog).to_have_count(0)
    assert focus_is_meaningful(page)["name"] == opener
    page.keyboard.press("Enter")


def confirm_safely(page: Page, question: str, answer: str) -> None:
    """A confirmation opens on its safe choice; Shift+Tab reaches the answer, Enter gives it."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(question)
    expect(dialog.get_by_role("button", name="Annuleren")).to_be_focused()
    assert tab_to(page, answer, backwards=True)["name"] == answer
    page.keyboard.press("Enter")
    expect(dialog).to_have_count(0)


def targets_big_enough(page: Page) -> None:
    assert page.evaluate(SMALL_TARGETS_JS) == [], page.url


def no_axe_problems(page: Page) -> None:
    assert axe_violations(page) == [], page.url


# --- the roles ------------------------------------------------------------------------------


def send_by_keyboard(sender: Phone, born: Any) -> str:
    page = sender.page
    heading_has_focus(page, "Nieuw signaal")
    targets_big_enough(page)
    type_into(page, "School", "regenboog")
    expect(page.get_by_role("option", name=re.compile(SCHOOL))).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Gekozen: {SCHOOL}")).to_be_visible()
    focus_is_meaningful(page)
    type_into(page, "Naam van het kind", NAME)
    for label, value in (("Dag", born.day), ("Maand", born.month), ("Jaar", born.year)):
        type_into(page, label, str(value))
    activate(page, "Controleren")
    heading_has_focus(page, "Controleer het signaal")
    activate(page, "Versturen")
    heading_has_focus(page, "Signaal verstuurd")
    in_live_region(page.get_by_text("Het signaal is versleuteld verstuurd."))
    ref = page.get_by_text(REF).first.text_content() or ""
    # "Vernieuwen" keeps focus and says what it did.
    activate(page, "Vernieuwen")
    expect(page.locator("#live")).to_have_text("De lijst is bijgewerkt.")
    assert focus_is_meaningful(page)["name"] == "Vernieuwen"
    targets_big_enough(page)
    return ref


def forward_by_keyboard(contact: Phone, ref: str) -> None:
    page = contact.page
    contact.goto("/")
    heading_has_focus(page, "Signalen voor uw school")
    targets_big_enough(page)
    # The skip link moves focus into the content, without drawing the screen anew.
    tab_to(page, "Naar de inhoud", backwards=True)
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signalen voor uw school")
    activate(page, f"Signaal {ref} openen")
    heading_has_focus(page, "Nieuw signaal")
    targets_big_enough(page)
    # The signal screen lists the teachers: the teacher's own button opens the confirmation.
    cancel_then_reopen(page, "Juf Anna (groep 5b)", "Enter")
    confirm_safely(page, "Doorsturen naar Juf Anna (groep 5b)?", "Ja, doorsturen")
    heading_has_focus(page, "Doorgestuurd")
    in_live_region(page.get_by_text("Doorgestuurd naar Juf Anna (groep 5b)."))
    targets_big_enough(page)


def read_by_keyboard(teacher: Phone) -> None:
    """Open once, see when it goes, get the warning without losing one's place, keep it
    longer, and see it go only after that warning."""
    page = teacher.page
    teacher.goto("/")
    heading_has_focus(page, "Signalen")
    expect(page.get_by_text("Na het openen staat het 10 minuten op uw scherm")).to_be_visible()
    # "Meldingen regelen" at the top leads focus down to the device panel; notifications on:
    # the new state is a status, and focus is on it.
    activate(page, "Meldingen regelen")
    expect(page.locator("#dit-apparaat")).to_be_focused()
    page.keyboard.press("Tab")
    assert focus_is_meaningful(page)["name"] == "Meldingen aanzetten"
    page.keyboard.press("Enter")
    status = page.get_by_text("Meldingen staan aan.")
    expect(status).to_be_focused()
    in_live_region(status)
    activate(page, "Signaal openen")
    heading_has_focus(page, "Signaal")
    expect(page.locator(".child-name")).to_have_text(NAME)
    expect(
        page.get_by_text(re.compile(r"verdwijnt vanzelf om \d\d:\d\d van uw scherm"))
    ).to_be_visible()
    targets_big_enough(page)
    # A minute before the end: a warning, read out at once and in view while the reader is at
    # the top; focus stays where the reader was.
    page.clock.fast_forward("09:01")
    warning = page.get_by_role("alert").filter(has_text="Over een minuut")
    in_live_region(warning)
    expect(warning).to_be_in_viewport()
    heading_has_focus(page, "Signaal")
    expect(page.locator(".child-name")).to_be_in_viewport()
    teacher.shot("leerkracht-08-tijd-bijna-om")
    activate(page, "Nog 5 minuten laten staan")
    kept = page.locator(".notice", has_text=re.compile(r"Het signaal blijft tot \d\d:\d\d op"))
    expect(kept).to_be_focused()
    in_live_region(kept)
    page.clock.fast_forward("03:00")  # past the first end: still there
    expect(page.locator(".child-name")).to_have_text(NAME)
    page.clock.fast_forward("03:00")  # the warning came again, now the time is up
    heading_has_focus(page, "Signaal verwijderd")
    in_live_region(page.get_by_text(re.compile("vanzelf van uw scherm verwijderd")))
    assert NAME not in page.content()


def test_send_forward_and_read_with_the_keyboard_only(browser: Any, world: World) -> None:
    school = world.org(name=SCHOOL, place="Utrecht")
    veilig_thuis = world.org("veilig_thuis", "Veilig Thuis Utrecht")
    sender = enrol_phone(browser, world, "sender", veilig_thuis, name="Sanne Verzender")
    contact = enrol_phone(browser, world, "contact", school, name="Ilse Begeleider")
    teacher = enrol_phone(
        browser, world, "teacher", school, name="Juf Anna", class_label="groep 5b"
    )
    teacher.page.clock.install()
    p256dh = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).rstrip(b"=").decode()
    teacher.context.add_init_script(FAKE_SUBSCRIPTION_JS % p256dh)
    teacher.context.grant_permissions(["notifications"], origin=world.url)

    ref = send_by_keyboard(sender, years_ago(9))
    forward_by_keyboard(contact, ref)
    read_by_keyboard(teacher)
    for phone in (sender, contact, teacher):
        assert phone.csp_problems() == []
        phone.close()


def test_officer_relays_with_the_keyboard_only(browser: Any, world: World) -> None:
    school = world.org(name=SCHOOL, place="Utrecht")
    world.member("contact", school)
    office = world.org("leerplicht", "Leerplicht Utrecht")
    officer = enrol_phone(browser, world, "officer", office, name="Omar Leerplicht")
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    sent = world.send(sender, office, NAME, years_ago(10).isoformat())
    assert sent.status_code == 201, sent.text
    page = officer.page
    officer.goto("/")
    heading_has_focus(page, "Signalen voor leerplicht")
    activate(page, f"Signaal {sent.json()['ref']} openen")
    heading_has_focus(page, "Signaal voor leerplicht")
    activate(page, "Doorsturen naar school")  # no school chosen: the search field says so
    expect(page.get_by_role("combobox", name="School")).to_be_focused()
    describes_focused_field(page, page.get_by_text("Kies eerst een school uit de lijst."))
    page.keyboard.type("regenboog")
    expect(page.get_by_role("option", name=re.compile(SCHOOL))).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    activate(page, "Doorsturen naar school")
    confirm_safely(page, f"Doorsturen naar {SCHOOL}?", "Ja, doorsturen")
    heading_has_focus(page, "Doorgestuurd naar school")
    in_live_region(page.get_by_text(re.compile("Uw kopie is verwijderd.")))
    targets_big_enough(page)
    assert officer.csp_problems() == []
    officer.close()


def test_admin_pages_with_the_keyboard_only(browser: Any, world: World) -> None:
    admin = enrol_phone(browser, world, "admin", None, name="Anna Beheer")
    page = admin.page
    admin.goto("/admin")
    # The first Tab reaches the skip link; it leads into the content.
    page.keyboard.press("Tab")
    assert focused(page) == {"tag": "a", "name": "Naar de inhoud", "id": ""}
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    targets_big_enough(page)
    no_axe_problems(page)

    def add_school(code: str) -> None:
        type_into(page, "Naam", "Basisschool De Es")
        type_into(page, "BRIN-/vestigingscode", code)
        activate(page, "School toevoegen")

    activate(page, "School toevoegen")  # the summary opens its form
    with page.expect_navigation():
        add_school("12AB00")
    status = page.locator("#status")
    expect(status).to_have_text("De school is toegevoegd.")
    expect(status).to_be_focused()
    in_live_region(status)
    # The same code again: an alert linked to the field, which gets focus.
    activate(page, "School toevoegen")
    add_school("12AB00")
    code = page.get_by_label("BRIN-/vestigingscode")
    expect(code).to_be_focused()
    expect(code).to_have_attribute("aria-invalid", "true")
    error = page.get_by_role("alert").filter(has_text="De code 12AB00 is al in gebruik.")
    in_live_region(error)
    describes_focused_field(page, error)
    assert "school-code-help" in (code.get_attribute("aria-describedby") or "")
    no_axe_problems(page)

    activate(page, "Basisschool De Es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Basisschool De Es")
    targets_big_enough(page)
    activate(page, "Persoon toevoegen")
    type_into(page, "Naam", "Meester Kees")
    with page.expect_navigation():
        activate(page, "Persoon toevoegen")
    expect(status).to_have_text("De persoon is toegevoegd. Maak nu een aanmeldlink.")
    expect(status).to_be_focused()
    activate(page, "Aanmeldlink maken voor Meester Kees")
    sheet = page.locator("#aanmeldlink")
    expect(sheet).to_be_focused()
    in_live_region(sheet.get_by_text("Aanmeldlink voor Meester Kees"))
    targets_big_enough(page)
    no_axe_problems(page)
    # Revoking asks first, in the page's own dialog (not the browser's confirm()).
    cancel_then_reopen(page, "Persoon intrekken: Meester Kees", "Escape")
    with page.expect_navigation():
        confirm_safely(page, "Meester Kees en alle apparaten intrekken?", "Ja, intrekken")
    expect(status).to_have_text("De persoon is ingetrokken.")
    expect(status).to_be_focused()
    assert admin.csp_problems() == []
    admin.close()


def test_statement_names_the_operator_and_its_parts(browser: Any, world: World) -> None:
    phone = enrol_phone(browser, world, "teacher", world.org(), name="Juf Anna")
    page = phone.page
    heading_has_focus(page, "Signalen")  # the home screen first: it takes focus when it comes
    activate(page, "Toegankelijkheid")
    heading_has_focus(page, "Toegankelijkheidsverklaring")
    for part in (
        "Status: C — eerste maatregelen genomen",
        "Laatste onderzoek",
        "Tijdslimiet voor de leerkracht",
        "Wat werkt nog niet goed, en wat doen we eraan?",
        "Probleem gevonden? Laat het ons weten",
        "Niet tevreden met het antwoord?",
    ):
        expect(page.get_by_role("heading", level=2, name=part)).to_be_visible()
    expect(page.get_by_text("Datum: 30 november 2026.")).to_be_visible()
    expect(page.get_by_text("staat het 10 minuten op het scherm")).to_be_visible()
    # The extensions come from server/policy.py through /api/accessibility.
    expect(page.get_by_text("5 minuten langer staan; dat kan 10 keer")).to_be_visible()
    expect(page.get_by_role("link", name="www.nationaleombudsman.nl")).to_be_visible()
    # The defaults say that the operator has yet to fill in its details.
    expect(page.get_by_text("nog niet ingevuld")).to_be_visible()
    expect(page.get_by_text("nog in te vullen met HWC_OPERATOR_EMAIL")).to_be_visible()
    targets_big_enough(page)
    phone.shot("algemeen-toegankelijkheidsverklaring")
    page.set_viewport_size({"width": 320, "height": 640})
    assert page.evaluate(OVERFLOW_JS) <= 0
    phone.close()


def test_statement_with_the_operators_details(browser: Any, tmp_path: Path) -> None:
    """Filled in, the details are links to write or phone, and the warning is gone."""
    with live_world(
        tmp_path / "hwc.db",
        operator_name="Gemeente Voorbeeldstad",
        operator_email="toegankelijkheid@voorbeeldstad.nl",
        operator_phone="030 123 45 67",
    ) as world:
        phone = new_phone(browser, world.url)
        phone.goto("/toegankelijkheid")
        page = phone.page
        heading_has_focus(page, "Toegankelijkheidsverklaring")
        expect(page.get_by_text("Gemeente Voorbeeldstad wil dat iedereen")).to_be_visible()
        expect(
            page.get_by_role("link", name="toegankelijkheid@voorbeeldstad.nl")
        ).to_have_attribute("href", "mailto:toegankelijkheid@voorbeeldstad.nl")
        expect(page.get_by_role("link", name="030 123 45 67")).to_have_attribute(
            "href", "tel:0301234567"
        )
        expect(page.get_by_text("nog niet ingevuld")).to_have_count(0)
        targets_big_enough(page)
        no_axe_problems(page)
        phone.close()
