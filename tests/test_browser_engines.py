"""The story in every engine a teacher carries: Chromium, Firefox ESR and WebKitGTK (Safari's
engine), from Debian's packages (tests/engines.py). Each engine runs it once — enrol, send,
open, forward, the teacher opens and "Gelezen", the sender's timeline, then the app starts
offline — and one case mixes engines: sent from Firefox, opened and forwarded in WebKit, read
in Chromium. WebKit is served over https (a certificate made at run time, server/tls.py): it
drops the app's `Secure` cookie on plain http, even on loopback.

Push cannot be delivered headless in Firefox or WebKit (no push service here; WebKitGTK has no
PushManager at all), so these tests check what each engine tells the person about
notifications; tests/test_browser_push.py covers delivery in Chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from server.tls import self_signed
from tests.browser import REF, years_ago
from tests.conftest import live_world
from tests.engines import ChromiumTab, Firefox, Tab, WebKit
from tests.support import World

NAME = "Xylofoon Quaggazwemmer"
SCHOOL = "Basisschool De Regenboog"
WAIT_SECONDS = 20.0
# What each engine says about notifications after enrolling: Firefox and Chromium have push
# (off until asked); WebKitGTK, like Safari outside the home screen, has none.
PUSH_TEXT = {
    "chromium": "Meldingen staan uit.",
    "firefox": "Meldingen staan uit.",
    "webkit": "Deze browser kan geen meldingen ontvangen.",
}

# Helpers every call gets: find what a person sees by its accessible name, and type as they do.
DOM_JS = """
const visible = (el) => Boolean(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
const clean = (text) => (text || "").replace(/\\s+/g, " ").trim();
const nameOf = (el) => clean(el.getAttribute("aria-label") || el.textContent);
const find = (selector, name, exact) => [...document.querySelectorAll(selector)].filter(visible)
  .find((el) => (exact ? nameOf(el) === name : nameOf(el).includes(name)));
const control = (label) => {
  const tag = [...document.querySelectorAll("label")].find((l) => clean(l.textContent) === label);
  return tag && document.getElementById(tag.htmlFor);
};
"""


class EnginePhone:
    """A person's phone in one engine, driven only through what the page shows."""

    def __init__(self, tab: Tab, base_url: str) -> None:
        self.tab, self.base_url = tab, base_url

    def run(self, body: str, *args: Any) -> Any:
        return self.tab.call(f"async (...args) => {{ {DOM_JS} {body} }}", *args)

    def wait(self, body: str, *args: Any, what: str = "") -> Any:
        """Poll until `body` returns something truthy (pages may be reloading meanwhile)."""
        deadline, last = time.monotonic() + WAIT_SECONDS, None
        while time.monotonic() < deadline:
            try:
                value = self.run(body, *args)
                if value:
                    return value
            except RuntimeError as error:
                last = error
            time.sleep(0.2)
        page = self.run("return clean(document.body.innerText);")
        raise AssertionError(f"waited for {what or body}: {last}; the page says: {page[:800]}")

    def goto(self, path: str) -> None:
        self.tab.goto(self.base_url + path)

    def heading(self, text: str) -> None:
        self.wait(
            "return clean(document.querySelector('h1')?.textContent) === args[0];",
            text,
            what=f"heading {text!r}",
        )

    def sees(self, text: str) -> None:
        self.wait(
            "return clean(document.body.innerText).includes(args[0]);", text, what=f"text {text!r}"
        )

    def text(self) -> str:
        return str(self.run("return clean(document.body.innerText);"))

    def click(
        self, name: str, exact: bool = True, selector: str = "button, a, [role=option]"
    ) -> None:
        self.wait(
            "const el = find(args[0], args[1], args[2]); if (el) el.click(); return Boolean(el);",
            selector,
            name,
            exact,
            what=f"{selector} {name!r}",
        )

    def fill(self, label: str, value: str) -> None:
        self.wait(
            """const el = control(args[0]); if (!el) return false;
            el.focus();
            const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
            setter.call(el, args[1]);
            el.dispatchEvent(new Event("input", {bubbles: true}));
            el.dispatchEvent(new Event("change", {bubbles: true}));
            return true;""",
            label,
            value,
            what=f"field {label!r}",
        )

    def controlled(self) -> None:
        self.wait("return navigator.serviceWorker.controller !== null;", what="service worker")


def enrol(
    tab: Tab, world: World, engine: str, role: str, org: str, name: str, label: str = ""
) -> EnginePhone:
    person = world.person(role, org, name=name, class_label=label)
    phone = EnginePhone(tab, world.url)
    phone.goto(f"/aanmelden#{world.enrol_link_token(person)}")
    phone.heading("Dit apparaat aanmelden")
    phone.click("Dit apparaat aanmelden")
    phone.heading("Dit apparaat is aangemeld")
    phone.sees(PUSH_TEXT[engine])
    phone.click("Verder naar de app")
    return phone


def send(sender: EnginePhone, born: Any) -> str:
    sender.heading("Nieuw signaal")
    sender.fill("School", "regenboog")
    sender.click(SCHOOL, exact=False, selector="[role=option]")
    sender.sees(f"Gekozen: {SCHOOL}")
    sender.fill("Naam van het kind", NAME)
    sender.fill("Dag", str(born.day))
    sender.fill("Maand", str(born.month))
    sender.fill("Jaar", str(born.year))
    sender.click("Controleren")
    sender.heading("Controleer het signaal")
    sender.sees(NAME)
    sender.click("Versturen")
    sender.heading("Signaal verstuurd")
    found = REF.search(sender.text())
    assert found, sender.text()
    return found.group(0)


def forward(contact: EnginePhone, ref: str) -> None:
    contact.goto("/")
    contact.click(f"Signaal {ref} openen")
    contact.wait(
        "return clean(document.querySelector('.child-name')?.textContent) === args[0];",
        NAME,
        what="the child's name",
    )
    contact.fill("Zoek op naam of groep", "5b")
    contact.click("Juf Anna", exact=False, selector="button")
    contact.click("Ja, doorsturen")
    contact.heading("Doorgestuurd")


def read_once(teacher: EnginePhone) -> None:
    teacher.goto("/")
    teacher.click("Signaal openen")
    teacher.wait(
        "return clean(document.querySelector('.child-name')?.textContent) === args[0];",
        NAME,
        what="the child's name",
    )
    teacher.sees("rustig plekje")
    teacher.click("Gelezen")
    teacher.click("Ja, verwijderen")
    teacher.heading("Signaal verwijderd")
    assert NAME not in teacher.text()


def timeline(sender: EnginePhone, ref: str) -> None:
    sender.goto("/")
    sender.sees(ref)
    for step in (
        "afgeleverd op 1 apparaat",
        "geopend door school",
        "doorgestuurd naar 1 leerkracht",
        "gezien door leerkracht",
    ):
        sender.sees(step)
    assert NAME not in sender.text()


def starts_offline(phone: EnginePhone, heading: str) -> None:
    """With the server gone, a fresh load shows the app (from its service worker's cache) with
    the last list it kept, not the browser's error page."""
    phone.goto("/")
    phone.heading(heading)
    phone.sees("Geen verbinding — bijgewerkt om")


@contextmanager
def engine_world(tmp_path: Path, https: bool) -> Iterator[World]:
    tls = self_signed(tmp_path) if https else None
    with live_world(tmp_path / "hwc.db", tls=tls) as world:
        yield world


@contextmanager
def tabs(engine: str, browser: Any, count: int) -> Iterator[list[Tab]]:
    """`count` phones of one engine (Chromium: the session's; Firefox, WebKit: started here)."""
    with ExitStack() as stack:
        driver: Firefox | WebKit | None = None
        if engine == "chromium":
            made: list[Tab] = [ChromiumTab(browser) for _ in range(count)]
        else:
            driver = Firefox() if engine == "firefox" else WebKit()
            stack.callback(driver.close)
            made = [driver.new_tab() for _ in range(count)]
        for tab in made:
            stack.callback(tab.close)
        yield made
        if isinstance(driver, Firefox):  # WebDriver classic (WebKit) reports no page errors
            assert driver.page_errors == []


@pytest.mark.parametrize("engine", ["chromium", "firefox", "webkit"])
def test_the_story_in_every_engine(browser: Any, tmp_path: Path, engine: str) -> None:
    with tabs(engine, browser, 3) as (sender_tab, contact_tab, teacher_tab):
        with engine_world(tmp_path, https=engine == "webkit") as world:
            veilig_thuis = world.org("veilig_thuis", "Veilig Thuis Utrecht")
            school = world.org(name=SCHOOL, place="Utrecht")
            sender = enrol(sender_tab, world, engine, "sender", veilig_thuis, "Sanne Verzender")
            contact = enrol(contact_tab, world, engine, "contact", school, "Ilse Begeleider")
            teacher = enrol(teacher_tab, world, engine, "teacher", school, "Juf Anna", "groep 5b")
            ref = send(sender, years_ago(12))
            forward(contact, ref)
            read_once(teacher)
            timeline(sender, ref)
            contact.goto("/")  # the list the contact's phone keeps for offline
            contact.sees("Doorgestuurd")
            for phone in (sender, contact):
                phone.controlled()
        # The server is gone: each app still starts, from its own cache.
        starts_offline(sender, "Nieuw signaal")
        starts_offline(contact, "Signalen voor uw school")


def test_sent_in_firefox_forwarded_in_webkit_read_in_chromium(browser: Any, tmp_path: Path) -> None:
    """Envelopes made by one engine's WebCrypto open in the others."""
    with tabs("firefox", browser, 1) as (sender_tab,), tabs("webkit", browser, 1) as (contact_tab,):
        with (
            tabs("chromium", browser, 1) as (teacher_tab,),
            engine_world(tmp_path, https=True) as world,
        ):
            veilig_thuis = world.org("veilig_thuis", "Veilig Thuis Utrecht")
            school = world.org(name=SCHOOL, place="Utrecht")
            sender = enrol(sender_tab, world, "firefox", "sender", veilig_thuis, "Sanne Verzender")
            contact = enrol(contact_tab, world, "webkit", "contact", school, "Ilse Begeleider")
            teacher = enrol(
                teacher_tab, world, "chromium", "teacher", school, "Juf Anna", "groep 5b"
            )
            ref = send(sender, years_ago(9))
            forward(contact, ref)
            read_once(teacher)
            timeline(sender, ref)
    assert re.fullmatch(REF, ref)


def test_a_browser_that_drops_the_cookie_is_told_and_the_link_works_elsewhere_once(
    browser: Any, tmp_path: Path
) -> None:
    """WebKit on plain http drops the `Secure` cookie: enrolment must not say "aangemeld",
    and the link must still enrol one other browser, and only one."""
    with tabs("webkit", browser, 1) as (webkit_tab,), tabs("chromium", browser, 2) as chromium:
        with engine_world(tmp_path, https=False) as world:
            person = world.person("teacher", world.org(name=SCHOOL), name="Juf Anna")
            link = f"/aanmelden#{world.enrol_link_token(person)}"
            dropped = EnginePhone(webkit_tab, world.url)
            dropped.goto(link)
            dropped.click("Dit apparaat aanmelden")
            dropped.heading("Aanmelden is niet gelukt")
            dropped.sees("Uw aanmeldlink werkt nog 10 minuten.")
            assert "aangemeld als" not in dropped.text()
            elsewhere, third = (EnginePhone(tab, world.url) for tab in chromium)
            elsewhere.goto(link)
            elsewhere.click("Dit apparaat aanmelden")
            elsewhere.heading("Dit apparaat is aangemeld")
            third.goto(link)
            third.click("Dit apparaat aanmelden")
            third.sees("Deze aanmeldlink werkt niet (meer).")
            working = world.db.execute(
                "SELECT count(*) FROM devices WHERE revoked_at IS NULL"
            ).fetchone()[0]
            assert working == 1
