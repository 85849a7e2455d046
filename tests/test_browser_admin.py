"""The admin as a person would: enrolled with `hwc admin-link`, builds the directory in the admin
pages, hands out enrolment links; each person enrols their own phone (browser context)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from server import regions
from server.auth import COOKIE
from server.cli import main as hwc
from server.models import NewRegion
from tests.browser import PHONE, Phone, axe_violations, enrol_phone, new_phone, years_ago
from tests.conftest import live_world
from tests.test_browser_story import NAME, fill_and_check, open_pending, send_checked

LINK = re.compile(r"http://\S+/aanmelden#\S+")


def _enrol_via_link(browser: Any, url: str, link: str) -> Phone:
    phone = new_phone(browser, url)
    phone.page.goto(link)
    phone.page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("Dit apparaat is aangemeld")
    return phone


def _me(page: Page) -> dict:
    return dict(page.evaluate("fetch('/api/me').then(r => r.json())"))


def _submit(page: Page, summary: str, fields: dict[str, str], button: str) -> None:
    with page.expect_navigation():
        _fill_and_click(page, summary, fields, button)


def _fill_and_click(page: Page, summary: str, fields: dict[str, str], button: str) -> None:
    section = page.locator("details").filter(
        has=page.locator("summary").filter(has_text=re.compile(f"^{re.escape(summary)}$"))
    )
    if not section.evaluate("e => e.open"):
        section.locator("summary").click()
    for label, value in fields.items():
        field = section.get_by_label(label, exact=True)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)
    section.get_by_role("button", name=button).click()


def _link_for(page: Page, person: str) -> str:
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=person))
    card.get_by_role("button", name="Aanmeldlink maken").click()
    sheet = page.locator("#aanmeldlink")
    expect(sheet).to_be_visible()
    expect(sheet.get_by_text(person)).to_be_visible()
    expect(sheet.locator("svg")).to_be_visible()  # the QR code
    assert axe_violations(page) == []
    return str(sheet.get_by_role("link").get_attribute("href"))


def _confirm(page: Page, answer: str) -> None:
    """The page's own confirmation: it opens on "Annuleren", the safe choice."""
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Annuleren")).to_be_focused()
    _no_axe_problems(page)
    dialog.get_by_role("button", name=answer).click()


DESKTOP = {"width": 1280, "height": 900}
# Words of table headings and buttons that the browser broke over two lines.
WORDS_BROKEN_JS = """() => {
  const broken = [];
  for (const el of document.querySelectorAll('th, td button')) {
    const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      for (const m of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter((r) => r.width).map((r) => r.top));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def _words_broken(page: Page) -> list[str]:
    return list(page.evaluate(WORDS_BROKEN_JS))


def _no_axe_problems(page: Page) -> None:
    assert axe_violations(page) == [], page.url


def test_admin_builds_the_directory_and_everyone_enrols(
    browser: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_path = tmp_path / "hwc.db"
    with live_world(db_path) as world:
        monkeypatch.setenv("HWC_BASE_URL", world.url)
        assert hwc(["admin-link", "Anna Beheer", "--database", str(db_path)]) == 0
        admin_link = LINK.search(capsys.readouterr().out)
        assert admin_link is not None
        admin = _enrol_via_link(browser, world.url, admin_link.group(0))
        assert _me(admin.page)["person"]["role"] == "admin"
        page = admin.page
        admin.goto("/admin")
        expect(page.get_by_role("heading", level=1)).to_have_text("Beheer")
        _no_axe_problems(page)

        _submit(
            page,
            "School toevoegen",
            {
                "Naam": "Basisschool De Regenboog",
                "Plaats": "Utrecht",
                "BRIN-/vestigingscode": "12AB00",
            },
            "School toevoegen",
        )
        _submit(
            page, "Organisatie toevoegen", {"Naam": "Veilig Thuis Utrecht"}, "Organisatie toevoegen"
        )
        page.get_by_role("link", name="Veilig Thuis Utrecht").click()
        # A name with a right-to-left override in it is refused on the page, in Dutch.
        _fill_and_click(
            page, "Persoon toevoegen", {"Naam": "Sanne \u202erednleM"}, "Persoon toevoegen"
        )
        expect(page.get_by_text("De naam bevat een onzichtbaar teken")).to_be_visible()
        _submit(page, "Persoon toevoegen", {"Naam": "Sanne de Melder"}, "Persoon toevoegen")
        sender_link = _link_for(page, "Sanne de Melder")
        _no_axe_problems(page)
        # An API key for the case-management system: made, listed with its use, revoked.
        page.get_by_label("Omschrijving").fill("Zaaksysteem")
        page.get_by_role("button", name="Sleutel maken").click()
        expect(page.locator("#api-key")).to_be_visible()
        expect(page.locator("#api-key")).to_contain_text("hwc register-key")  # what comes next
        bearer = {
            "Authorization": f"Bearer {page.locator('#api-key [data-field=key]').inner_text()}"
        }
        assert httpx.get(f"{world.url}/api/signals", headers=bearer).status_code == 200
        page.reload()
        _no_axe_problems(page)
        page.set_viewport_size(DESKTOP)
        assert _words_broken(page) == []
        page.set_viewport_size(PHONE)
        # On a phone each row is a block: a cell says what it is, unless it is a button.
        keys = page.locator("table").filter(has=page.get_by_text("API-sleutels van"))
        unlabelled = keys.locator("td:not([data-label])").filter(has_not=page.locator("button"))
        expect(unlabelled).to_have_count(0)
        page.get_by_role("button").filter(has_text="Intrekken: API-sleutel Zaaksysteem").click()
        _confirm(page, "Ja, intrekken")
        expect(page.locator("#status")).to_have_text("De API-sleutel is ingetrokken.")
        expect(
            page.get_by_role("cell", name=re.compile("^(Status: )?ingetrokken op"))
        ).to_be_visible()
        assert httpx.get(f"{world.url}/api/signals", headers=bearer).status_code == 401

        admin.goto("/admin")
        page.get_by_role("link", name="Basisschool De Regenboog").click()
        _submit(
            page,
            "Persoon toevoegen",
            {"Naam": "Ingrid Bakker", "Rol": "intern begeleider"},
            "Persoon toevoegen",
        )
        _submit(
            page,
            "Persoon toevoegen",
            {"Naam": "Tom Jansen", "Rol": "leerkracht", "Groep of klas (leerkracht)": "groep 5b"},
            "Persoon toevoegen",
        )
        contact_link = _link_for(page, "Ingrid Bakker")
        teacher_link = _link_for(page, "Tom Jansen")
        _no_axe_problems(page)

        phones = {}
        for role, link in (
            ("sender", sender_link),
            ("contact", contact_link),
            ("teacher", teacher_link),
        ):
            phone = _enrol_via_link(browser, world.url, link)
            assert phone.has_device_key()
            assert _me(phone.page)["person"]["role"] == role
            phones[role] = phone
        assert _me(phones["teacher"].page)["person"]["class_label"] == "groep 5b"

        # The admin sees each device, with notifications off (none were allowed here).
        page.reload()
        expect(page.get_by_role("cell", name="meldingen uit")).to_have_count(2)

        # A spent link, opened on a fifth phone, fails with a Dutch message and no device.
        stranger = new_phone(browser, world.url)
        stranger.page.goto(teacher_link)
        stranger.page.get_by_role("button", name="Dit apparaat aanmelden").click()
        expect(stranger.page.get_by_text("Deze aanmeldlink werkt niet (meer)")).to_be_visible()
        assert not stranger.has_device_key()
        assert stranger.page.evaluate("fetch('/api/me').then(r => r.status)") == 401

        # Revoking the teacher's device: its next request is refused.
        revoke = page.get_by_role("button").filter(has_text=re.compile("^Intrekken: .* van Tom"))
        revoke.click()
        _confirm(page, "Ja, intrekken")
        expect(page.get_by_role("cell", name="ingetrokken")).to_be_visible()
        expect(page.locator("#status")).to_have_text("Het apparaat is ingetrokken.")
        assert phones["teacher"].page.evaluate("fetch('/api/me').then(r => r.status)") == 401
        for phone in [admin, stranger, *phones.values()]:
            assert phone.csp_problems() == []
            phone.close()


def test_contact_invites_and_revokes_teachers_of_their_own_school(
    browser: Any, tmp_path: Path
) -> None:
    with live_world(tmp_path / "hwc.db") as world:
        school = world.org()
        contact = _enrol_via_link(
            browser,
            world.url,
            f"{world.url}/aanmelden#{world.enrol_link_token(world.person('contact', school))}",
        )
        page = contact.page
        contact.goto("/admin/school")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Leerkrachten van")
        page.get_by_label("Naam", exact=True).fill("Tom Jansen")
        page.get_by_label("Groep of klas").fill("groep 5b")
        with page.expect_navigation():
            page.get_by_role("button", name="Leerkracht toevoegen").click()
        link = _link_for(page, "Tom Jansen")
        teacher = _enrol_via_link(browser, world.url, link)
        assert _me(teacher.page)["person"]["role"] == "teacher"
        page.reload()
        _no_axe_problems(page)
        page.get_by_role("button", name="Persoon intrekken").click()
        _confirm(page, "Ja, intrekken")
        expect(page.get_by_text("Ingetrokken op")).to_be_visible()
        assert teacher.page.evaluate("fetch('/api/me').then(r => r.status)") == 401
        # The contact cannot open the admin's pages.
        contact.goto("/admin")
        expect(page.get_by_role("heading", level=1)).to_have_text("Geen toegang")
        teacher.close()
        contact.close()


def test_admin_imports_the_duo_register_and_sees_what_changed(browser: Any, tmp_path: Path) -> None:
    """The admin pastes DUO's file twice (tests/data, made-up schools): the page says what
    changed in Dutch, a closed school is marked, and a school's holiday region can be set."""
    data = Path(__file__).parent / "data"
    with live_world(tmp_path / "hwc.db") as world:
        # An admin device enrolled through the API (the app's own enrolment is tested above);
        # its credential goes into the browser's cookie as the server would set it.
        admin = new_phone(browser, world.url)
        admin.goto("/admin")
        credential = world.member("admin", None).credential
        admin.page.evaluate(
            f"document.cookie = '{COOKIE}={credential}; Secure; Path=/; SameSite=Strict'"
        )
        page = admin.page
        admin.goto("/admin")
        for month, summary in (
            ("10", "Register geïmporteerd: 6 nieuw, 0 hernoemd, 0 gesloten, 0 ongewijzigd."),
            ("11", "Register geïmporteerd: 1 nieuw, 1 hernoemd, 1 gesloten, 4 ongewijzigd."),
        ):
            text = (data / f"duo_vestigingen_2026_{month}.csv").read_text(encoding="utf-8")
            _submit(
                page, "Scholen importeren (DUO-register of CSV)", {"Scholen": text}, "Importeren"
            )
            expect(page.locator("#status")).to_have_text(summary)
            expect(page.locator("#status")).to_be_focused()
        _no_axe_problems(page)
        closed = page.get_by_role("listitem").filter(
            has=page.get_by_role("link", name="OBS De Verzonnen Linde, dependance")
        )
        expect(closed).to_contain_text("gesloten")
        page.get_by_role("link", name="CBS De Fictieve Akker").click()
        expect(page.get_by_text("gemeente EDE (DUO-register)")).to_be_visible()
        page.get_by_label(
            "Vakantieregio, als de school de data van een andere regio volgt"
        ).select_option("zuid")
        with page.expect_navigation():
            page.get_by_role("button", name="Vakantieregio opslaan").click()
        expect(page.locator("#status")).to_have_text("De vakantieregio is opgeslagen.")
        expect(page.get_by_text("regio zuid (afwijkend van de gemeente)")).to_be_visible()
        _no_axe_problems(page)


def test_the_admin_finds_one_school_among_many(browser: Any, tmp_path: Path) -> None:
    """With more schools than the overview lists (a national register), the admin searches by
    name, place or code; the form is a plain GET, so the result can be reloaded and shared."""
    with live_world(tmp_path / "hwc.db") as world:
        admin_device = world.member("admin", None)
        rows = [f"Basisschool De Zoekboom {n},Deventer,77ZZ{n:02d},midden," for n in range(120)]
        csv = "\n".join(["name,place,code,region,phone", *rows]) + "\n"
        imported = admin_device.post("/api/admin/schools/import", json={"csv": csv})
        assert imported.status_code == 201, imported.text
        admin = new_phone(browser, world.url)
        admin.goto("/admin")
        admin.page.evaluate(
            f"document.cookie = '{COOKIE}={admin_device.credential}; Secure; Path=/; "
            "SameSite=Strict'"
        )
        page = admin.page
        admin.goto("/admin")
        expect(page.get_by_text("De eerste 100 van 120 scholen op naam")).to_be_visible()
        page.get_by_label("Zoek een school op naam, plaats of BRIN-/vestigingscode").fill("77zz07")
        with page.expect_navigation():
            page.get_by_role("button", name="Zoeken").click()
        expect(page.get_by_text("1 gevonden voor “77zz07”, van 120 scholen.")).to_be_visible()
        page.get_by_role("link", name="Basisschool De Zoekboom 7").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Basisschool De Zoekboom 7")
        page.go_back()
        _no_axe_problems(page)
        admin.close()


def test_regions_delegate_administration_down_to_the_school(browser: Any, tmp_path: Path) -> None:
    """Issue 23's story: the instance admin makes a region and its admin; the region admin
    imports DUO's register for its municipalities and makes a school's first admin; that admin
    enrols a contact, the contact a teacher; a sender of another region finds the school and
    the signal reaches the contact. Nobody's pages reach outside their region or school."""
    register = (Path(__file__).parent / "data" / "duo_vestigingen_2026_10.csv").read_text("utf-8")
    with live_world(tmp_path / "hwc.db") as world:
        admin_id = world.person("admin", None, name="Anna Landelijk")
        instance = _enrol_via_link(browser, world.url, _link(world, admin_id))
        page = instance.page
        instance.goto("/admin")
        fields = {"Naam": "Regio Gelderland-Zuid", "Gemeenten": "Nijmegen, Ede"}
        _submit(page, "Regio toevoegen", fields, "Regio toevoegen")
        page.get_by_role("link", name="Regio Gelderland-Zuid").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Regio Gelderland-Zuid")
        _submit(
            page, "Regiobeheerder toevoegen", {"Naam": "Rita Regio"}, "Regiobeheerder toevoegen"
        )
        _no_axe_problems(page)
        region_admin = _enrol_via_link(browser, world.url, _link_for(page, "Rita Regio"))

        page = region_admin.page
        region_admin.goto("/admin")  # lands on the region's own page
        expect(page.get_by_role("heading", level=1)).to_have_text("Regio Gelderland-Zuid")
        _submit(
            page, "Scholen importeren (DUO-register of CSV)", {"Scholen": register}, "Importeren"
        )
        expect(page.locator("#status")).to_have_text(
            "Register geïmporteerd: 2 nieuw, 0 hernoemd, 0 gesloten, 0 ongewijzigd. "
            "Buiten uw regio: 4."
        )
        expect(page.get_by_role("link", name="OBS Het Voorbeeldwad")).to_have_count(0)
        _no_axe_problems(page)
        page.get_by_role("link", name="Basisschool Het Bedachte Bos").click()
        fields = {"Naam": "Dirk Directeur", "Rol": "beheerder"}
        _submit(page, "Persoon toevoegen", fields, "Persoon toevoegen")
        school_admin = _enrol_via_link(browser, world.url, _link_for(page, "Dirk Directeur"))

        page = school_admin.page
        school_admin.goto("/admin")  # lands on the school's own page
        expect(page.get_by_role("heading", level=1)).to_have_text("Basisschool Het Bedachte Bos")
        expect(page.get_by_text("Regio Gelderland-Zuid")).to_be_visible()
        fields = {"Naam": "Ingrid Bakker", "Rol": "intern begeleider"}
        _submit(page, "Persoon toevoegen", fields, "Persoon toevoegen")
        _no_axe_problems(page)
        contact = _enrol_via_link(browser, world.url, _link_for(page, "Ingrid Bakker"))
        contact.goto("/admin/school")
        contact.page.get_by_label("Naam", exact=True).fill("Tom Jansen")
        contact.page.get_by_label("Groep of klas").fill("groep 5b")
        with contact.page.expect_navigation():
            contact.page.get_by_role("button", name="Leerkracht toevoegen").click()
        teacher = _enrol_via_link(browser, world.url, _link_for(contact.page, "Tom Jansen"))
        assert _me(teacher.page)["org"]["name"] == "Basisschool Het Bedachte Bos"

        # A Veilig Thuis team of another region finds the school and its signal arrives.
        north = regions.create_region(world.db, NewRegion("Regio Noord", "Groningen"), world.now())
        team = world.org("veilig_thuis", "Veilig Thuis Groningen", region_id=north)
        sender = enrol_phone(browser, world, "sender", team, name="Sanne Verzender")
        born = years_ago(9)
        fill_and_check(
            sender, NAME, born, recipient="Basisschool Het Bedachte Bos", query="Bedachte"
        )
        ref = send_checked(sender, NAME, born)
        open_pending(contact, ref)
        expect(contact.page.locator(".child-name")).to_have_text(NAME)

        # Outside one's region or school, a page is as absent as one that does not exist.
        for phone, path in (
            (region_admin, f"/admin/orgs/{team}"),
            (region_admin, f"/admin/regions/{north}"),
            (school_admin, f"/admin/orgs/{team}"),
        ):
            phone.goto(path)
            expect(phone.page.get_by_role("heading", level=1)).to_have_text("Niet gevonden")
        for phone in (instance, region_admin, school_admin, contact, teacher, sender):
            assert phone.csp_problems() == []
            phone.close()


def _link(world: Any, person_id: str) -> str:
    return f"{world.url}/aanmelden#{world.enrol_link_token(person_id)}"
