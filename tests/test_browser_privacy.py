"""The privacy page in Chromium (from the footer, axe clean, light and dark, 320 px), and an
admin who looks up everything held about a teacher and erases it when the teacher leaves."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser import SCREENSHOTS, axe_violations, enrol_phone, new_phone
from tests.support import World
from tests.test_browser_keyboard import targets_big_enough

TEACHER = "Gerritdina Vondelpark-Quist"
DEVICE_LABEL = "Mijn telefoon"  # what the enrolment screen suggests


def test_privacy_page_from_the_footer(browser: Any, world: World) -> None:
    for scheme in ("light", "dark"):
        phone = new_phone(browser, world.url, color_scheme=scheme)
        page = phone.page
        phone.goto("/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Niet aangemeld")
        page.get_by_role("contentinfo").get_by_role("link", name="Privacy").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Privacy")
        assert page.url == f"{world.url}/privacy"
        for text in (
            "Alleen uw telefoon kan ze lezen",
            "10 minuten nadat u het opende",
            "uiterlijk 7 dagen na het versturen",
            "14 dagen nadat het signaal klaar is",
            "30 dagen later zijn uw gegevens helemaal weg",
            "Het beheerlog: 365 dagen",
        ):
            expect(page.get_by_text(text)).to_be_visible()
        phone.shot(f"algemeen-privacy-{scheme}")
        targets_big_enough(page)
        page.set_viewport_size({"width": 320, "height": 640})
        assert (
            page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            <= 0
        )
        page.reload()  # served as the app shell on its own path, too
        expect(page.get_by_role("heading", level=1)).to_have_text("Privacy")
        assert phone.csp_problems() == []
        phone.close()


def test_admin_views_and_erases_a_teacher_who_leaves(browser: Any, world: World) -> None:
    school = world.org(name="Basisschool De Regenboog")
    teacher = enrol_phone(browser, world, "teacher", school, name=TEACHER, class_label="groep 7")
    admin = enrol_phone(browser, world, "admin", None, name="Anna Beheer")
    page = admin.page
    admin.goto(f"/admin/orgs/{school}")
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=TEACHER))
    card.get_by_role("link", name="Gegevens inzien of verwijderen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Gegevens van {TEACHER}")
    expect(page.get_by_role("cell", name="groep 7")).to_be_visible()
    expect(page.get_by_role("cell", name=DEVICE_LABEL)).to_be_visible()
    log = page.get_by_role("table", name=f"Beheerlog over of door {TEACHER} (nieuwste eerst)")
    expect(log).to_contain_text(f"{TEACHER} (leerkracht) meldde een apparaat aan")
    assert axe_violations(page) == []
    targets_big_enough(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "beheer-gegevens-persoon.png"), full_page=True)
    page.get_by_role("button", name=f"Alle gegevens van {TEACHER} verwijderen").click()
    confirm = page.get_by_role("dialog")
    expect(confirm).to_contain_text("Dit kan niet ongedaan worden gemaakt")
    expect(confirm.get_by_role("button", name="Annuleren")).to_be_focused()
    with page.expect_navigation():
        confirm.get_by_role("button", name="Ja, verwijderen").click()
    assert page.url == f"{world.url}/admin/orgs/{school}"
    expect(page.get_by_role("heading", name=TEACHER)).to_have_count(0)
    # The org's Beheerlog keeps the acts, with "(verwijderd)" for the name (server/adminlog.py).
    log = page.get_by_role("table", name="Beheerlog van Basisschool De Regenboog (nieuwste eerst)")
    expect(log.get_by_role("row").nth(1)).to_contain_text(
        "Anna Beheer (beheerder) verwijderde alle gegevens van (verwijderd)"
    )
    expect(log).not_to_contain_text(TEACHER)
    assert axe_violations(page) == []
    assert (
        world.db.execute("SELECT count(*) FROM people WHERE name = ?", [TEACHER]).fetchone()[0] == 0
    )
    teacher.page.reload()
    expect(teacher.page.get_by_role("heading", level=1)).to_have_text("Niet aangemeld")
    teacher.close()
    admin.close()
