"""The service worker's two lists in Chromium, for every role: the shell precached at install,
each role's screens cached the first time the app loads them, nothing else in Cache Storage;
after a role's first online visit the app still starts offline. And the benchmark's first-load
weight (bench/weight.py) counts at least what Chromium really fetched on that first visit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from bench import weight
from server.pages import APP_PATHS
from tests.browser import Phone, enrol_phone, release_next_version, sw_list
from tests.support import World

HOME = {
    "admin": "Beheer",
    "sender": "Nieuw signaal",
    "contact": "Signalen voor uw school",
    "teacher": "Signalen",
    "officer": "Signalen voor leerplicht",
}
ORG = {
    "admin": None,
    "sender": "veilig_thuis",
    "contact": "school",
    "teacher": "school",
    "officer": "leerplicht",
}
# Loaded at every start after the first screen (app.js): the key log's self-check and
# approvals (issue 19), with what they import; cached like a screen this phone used.
AFTER_FIRST_SCREEN = [
    "/views/guard.js",
    "/keylog.js",
    "/trust.js",
    "/envelope2.js",
    "/envelope3.js",
    "/keyring.js",  # the start check's key care (issue 20 item 4)
]
# A sender's phone also decides about the organisation's sending systems (issue 20 item 3).
AFTER_FIRST_SCREEN_OF = {"sender": ["/views/machines.js"]}
SHELL_PAGES = {re.sub(r"\{\w+\}", "", path) for path in APP_PATHS}  # each answers index.html

CACHED_PATHS_JS = """async (wanted) => {
  // Waits (up to 10 s) until every wanted path is cached; the worker caches as the app loads.
  let paths = [];
  for (let i = 0; i < 400; i++) {
    paths = [];
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) paths.push(new URL(request.url).pathname);
    }
    if (wanted.every((path) => paths.includes(path))) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return paths;
}"""

IMPORT_JS = """async (paths) => {
  for (const path of paths) await import(path);
  return true;
}"""


def role_files(world: World, role: str) -> list[str]:
    """The role's screens, as the benchmark counts them for its first visit."""
    return list(weight.measure(int(urlsplit(world.url).port or 0))["role_files"][role])


def cached_paths(phone: Phone, wanted: list[str] | None = None) -> list[str]:
    return list(phone.page.evaluate(CACHED_PATHS_JS, wanted or []))


def app_files_fetched(phone: Phone) -> set[str]:
    """Paths of the server's app files the phone's page and worker asked for (no API calls);
    the app's page routes count as the page itself, "/"."""
    paths = set()
    for url in phone.requested:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == phone.base_url and not parts.path.startswith(
            "/api/"
        ):
            paths.add("/" if parts.path in SHELL_PAGES else parts.path)
    return paths


@pytest.mark.parametrize("role", list(HOME))
def test_role_opens_offline_after_its_first_visit(browser: Any, world: World, role: str) -> None:
    shell, on_demand = sw_list("SHELL"), sw_list("ON_DEMAND")
    org = world.org(ORG[role], f"Organisatie {role}") if ORG[role] else None
    phone = enrol_phone(
        browser,
        world,
        role,
        org,
        name=f"Persoon {role}",
        class_label="groep 5" if role == "teacher" else "",
    )
    page = phone.page
    try:
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME[role])
        phone.wait_for_service_worker()
        measured = weight.measure(int(urlsplit(world.url).port or 0))
        assert f"/views/{role}.js" in measured["role_files"][role]
        screens = [
            *measured["role_files"][role],
            *AFTER_FIRST_SCREEN,
            *AFTER_FIRST_SCREEN_OF.get(role, []),
        ]

        # Cache Storage: the whole shell and this role's screens (cached as the app loaded
        # them), nothing else: no other role's screens, never an API or admin response.
        cached = cached_paths(phone, shell + screens)
        assert sorted(cached) == sorted(set(shell) | set(screens))
        assert set(on_demand) >= set(screens)

        # Chromium fetched on this first visit no more than the benchmark counts for the role
        # (the page, its icons, sw.js, the precache and the role's screens).
        fetched = app_files_fetched(phone)
        counted = set(measured["core"]) | set(screens)
        assert fetched - counted <= {"/favicon.ico"}, sorted(fetched - counted)
        assert set(screens) <= fetched

        # Offline: a reload starts the app from the cache with what the device check and the
        # list last answered (kept on the device); the role's screens load from the cache.
        phone.context.set_offline(True)
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME[role])
        if role != "admin":  # the admin's home has no list
            expect(
                page.get_by_text(re.compile(r"^Geen verbinding — bijgewerkt om \d\d:\d\d\.$"))
            ).to_be_visible()
        assert page.evaluate(IMPORT_JS, screens)
        # A screen this phone never opened is not there offline: the same notice, no error.
        page.get_by_role("link", name="Toegankelijkheid").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Geen verbinding")
        phone.context.set_offline(False)
        page.get_by_role("button", name="Opnieuw proberen").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Toegankelijkheidsverklaring")
        page.get_by_role("link", name="Handle with Care").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME[role])
        assert phone.csp_problems() == []
        assert sorted(cached_paths(phone)) == sorted(
            set(shell) | set(screens) | {"/views/accessibility.js"}
        )
    finally:
        phone.close()


def test_officers_send_form_loads_when_first_opened(browser: Any, world: World) -> None:
    """The officers' /nieuw is a later screen: not part of their first visit, loaded (and
    cached) when first opened; offline before that, the offline notice."""
    office = world.org("leerplicht", "Leerplicht Verstuurstad")
    phone = enrol_phone(browser, world, "officer", office, name="Olga Leerplicht")
    page = phone.page
    try:
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME["officer"])
        phone.wait_for_service_worker()
        assert "/views/sender.js" not in app_files_fetched(phone)
        phone.context.set_offline(True)
        page.get_by_role("link", name="Nieuw signaal versturen").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Geen verbinding")
        phone.context.set_offline(False)
        page.get_by_role("button", name="Opnieuw proberen").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Nieuw signaal")
        expect(page.get_by_role("textbox", name="Naam van het kind")).to_be_visible()
        assert "/views/sender.js" in cached_paths(phone, ["/views/sender.js"])
        assert phone.csp_problems() == []
    finally:
        phone.close()


def test_a_new_version_keeps_this_phones_screens(
    browser: Any, own_pwa_world: tuple[World, Path]
) -> None:
    """A new version's worker installs with the screens this phone used, fetched anew from
    the new version: after "Nieuwe versie — herladen" they are still there offline, and no
    old file is kept."""
    world, pwa = own_pwa_world
    phone = enrol_phone(
        browser, world, "teacher", world.org(), name="Juf Update", class_label="groep 2"
    )
    page = phone.page
    try:
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME["teacher"])
        phone.wait_for_service_worker()
        screens = role_files(world, "teacher") + AFTER_FIRST_SCREEN
        shell = sw_list("SHELL")
        cached_paths(phone, shell + screens)
        # The next version: another VERSION, and a changed screen of this role.
        release_next_version(pwa)
        with (pwa / "views" / "teacher.js").open("a") as script:
            script.write("export const NEXT_VERSION = 1;\n")
        page.evaluate("async () => (await navigator.serviceWorker.getRegistration()).update()")
        bar = page.get_by_role("button", name="Nieuwe versie — herladen")
        expect(bar).to_be_visible()
        # Installed and waiting: its cache already holds this phone's screens.
        installed = page.evaluate("""async () => (await (await caches.open('hwc-shell-next'))
            .keys()).map((request) => new URL(request.url).pathname)""")
        assert sorted(installed) == sorted(set(shell) | set(screens))
        with page.expect_navigation():
            bar.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME["teacher"])
        assert page.evaluate("caches.keys()") == ["hwc-shell-next"]
        assert sorted(cached_paths(phone)) == sorted(set(shell) | set(screens))
        kept = page.evaluate("""async () => (await (await caches.open('hwc-shell-next'))
            .match('/views/teacher.js')).text()""")
        assert kept.endswith("export const NEXT_VERSION = 1;\n")
        phone.context.set_offline(True)
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME["teacher"])
        assert page.evaluate(IMPORT_JS, screens)
        assert phone.csp_problems() == []
    finally:
        phone.close()
