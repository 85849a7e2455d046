"""The served app in Debian's Chromium: service worker, the envelope vectors in WebCrypto, CSP,
the manifest and icons, offline start, and notifications from pushes."""

from __future__ import annotations

import base64
import json
import posixpath
import re
import struct
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from bench.keylogcost import serve_sources
from server.pages import PWA_FILES, SHELL_PAGE
from tests.browser import (
    ROOT,
    enrol_phone,
    new_phone,
    release_next_version,
    session_records,
    sw_list,
)
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import World

VECTORS = json.loads((ROOT / "tests/vectors/envelope-v1.json").read_text())
VECTORS_V3 = json.loads((ROOT / "tests/vectors/envelope-v3.json").read_text())
PWA = ROOT / "pwa"

RUN_VECTORS_JS = """async (vectors) => {
  const m = await import('/envelope.js');
  const utf8 = new TextEncoder();
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const results = [];
  for (const v of vectors.positive) {
    const key = await m.importPrivateKeyJwk(v.recipient.jwk);
    const recipient = m.b64uDecode(v.recipient.public_key);
    const plain = await m.decryptEnvelope(key, recipient, v.signal_id, v.device_id, v.envelope);
    const content = m.decodeContent(plain);
    const again = await m.encryptEnvelope(recipient, v.signal_id, v.device_id,
      utf8.encode(v.plaintext), {
      ephemeralKeyPair: await m.importKeyPairJwk(v.ephemeral.jwk),
      salt: m.b64uDecode(v.salt), iv: m.b64uDecode(v.iv)});
    results.push({description: v.description, kind: 'positive',
      ok: same(plain, utf8.encode(v.plaintext)) && content.name === v.content.name &&
        content.birth_date === v.content.birth_date &&
        JSON.stringify(again) === JSON.stringify(v.envelope)});
  }
  for (const v of vectors.negative) {
    const key = await m.importPrivateKeyJwk(v.recipient.jwk);
    let failed = false;
    try {
      await m.decryptEnvelope(key, m.b64uDecode(v.recipient.public_key), v.signal_id, v.device_id,
        v.envelope);
    } catch (error) {
      failed = error.name === 'EnvelopeError';
    }
    results.push({description: v.description, kind: 'negative', ok: failed});
  }
  return results;
}"""


def test_service_worker_controls_the_app_and_csp_holds(browser: Any, world: World) -> None:
    phone = new_phone(browser, world.url)
    phone.goto("/")
    phone.wait_for_service_worker()
    page = phone.page
    # No key stored on this device: the startup check asks the server (a known device whose
    # key store was wiped is reported as lost) and, refused with 401, says it is not enrolled.
    expect(page.get_by_role("heading", level=1)).to_have_text("Niet aangemeld")
    expect(page.get_by_text("Dit apparaat is niet (meer) aangemeld.")).to_be_visible()
    phone.shot("algemeen-niet-aangemeld")
    page.get_by_role("link", name="Toegankelijkheid").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Toegankelijkheidsverklaring")
    expect(page.get_by_text("WCAG) 2.1, niveau A en AA")).to_be_visible()
    expect(page.get_by_text("EN 301 549")).to_be_visible()
    phone.shot("algemeen-toegankelijkheid")
    page.reload()  # now served through the worker
    expect(page.get_by_role("heading", level=1)).to_have_text("Toegankelijkheidsverklaring")
    phone.goto("/aanmelden")
    expect(page.get_by_role("heading", level=1)).to_have_text("Aanmeldlink niet compleet")
    phone.shot("algemeen-aanmeldlink-niet-compleet")
    assert phone.page_errors == []
    expected_401 = "Failed to load resource: the server responded with a status of 401"
    assert [e for e in phone.console_errors if not e.startswith(expected_401)] == []
    phone.close()


def test_envelope_vectors_pass_in_chromium(browser: Any, world: World) -> None:
    phone = new_phone(browser, world.url)
    phone.goto("/toegankelijkheid")
    results = phone.page.evaluate(RUN_VECTORS_JS, VECTORS)
    assert len(results) == len(VECTORS["positive"]) + len(VECTORS["negative"])
    assert [r for r in results if not r["ok"]] == []
    assert phone.page_errors == [] and phone.console_errors == []
    phone.close()


# The served modules (as a phone loads them) against tests/js/envelopevectors.mjs, the same
# checks Node runs: each version 3 vector gets Python's verdict.
RUN_V3_VECTORS_JS = """async (vectors) => {
  const modules = { envelope: await import('/envelope.js'),
    envelope2: await import('/envelope2.js'), envelope3: await import('/envelope3.js') };
  const { v3VectorVerdicts } = await import('/tests/js/envelopevectors.mjs');
  return v3VectorVerdicts(modules, vectors);
}"""


def test_envelope_v3_vectors_get_pythons_verdicts_in_chromium(browser: Any, world: World) -> None:
    phone = new_phone(browser, world.url)
    serve_sources(phone.page)
    phone.goto("/toegankelijkheid")
    results = phone.page.evaluate(RUN_V3_VECTORS_JS, VECTORS_V3)
    assert [r["description"] for r in results] == [
        v["description"] for v in VECTORS_V3["positive"] + VECTORS_V3["negative"]
    ]
    assert [r for r in results if not r["ok"]] == []
    assert {r["expected"] for r in results} == {
        "verified",
        "bad_signature",
        "malformed",
        "unreadable",
    }
    assert phone.page_errors == [] and phone.console_errors == []
    phone.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_manifest_and_icons(browser: Any, world: World) -> None:
    phone = new_phone(browser, world.url)
    phone.goto("/")
    cdp = phone.context.new_cdp_session(phone.page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [], manifest["errors"]
    assert manifest["url"].endswith("/manifest.webmanifest")
    data = json.loads(manifest["data"])
    assert data["name"] == "Handle with Care" and data["display"] == "standalone"
    assert data["start_url"] == "/" and data["scope"] == "/" and data["lang"] == "nl"
    purposes = {(icon["sizes"], icon["purpose"]) for icon in data["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes
    for icon in data["icons"]:
        response = phone.context.request.get(world.url + icon["src"])
        assert response.status == 200 and response.headers["content-type"] == "image/png"
        size = int(icon["sizes"].split("x")[0])
        assert png_size(response.body()) == (size, size)
    phone.close()


def test_worker_lists_every_app_file_once() -> None:
    """The worker precaches what every phone needs to start and to enrol (SHELL) and caches
    each other app file the first time the app loads it (ON_DEMAND): every app file is in
    exactly one of the two lists, and nothing else is."""
    shell, on_demand = set(sw_list("SHELL")), set(sw_list("ON_DEMAND"))
    files = set(PWA_FILES) - {SHELL_PAGE}
    # The worker itself is never cached; the server-rendered admin pages' files are no part of
    # the app (and /admin* is never cached); the large install icons are fetched by the
    # browser when it installs, not on every phone's first visit.
    large_icons = {"/icons/icon-512.png", "/icons/maskable-512.png", "/icons/apple-touch-icon.png"}
    app_files = files - {"/sw.js", "/admin.js", "/admin.css"} - large_icons
    # The shell: the page, its scripts (linktoken.js, app.js) and what app.js imports
    # statically, its CSS, manifest and icon.
    scripts = re.findall(
        r'<script (?:type="module" )?src="([^"]+)">', (PWA / "index.html").read_text()
    )
    assert scripts == ["/linktoken.js", "/app.js"]  # the token leaves the URL first
    assert shell == {
        "/",
        *scripts,
        *static_imports("/app.js"),
        "/style.css",
        "/manifest.webmanifest",
        "/icons/icon-192.png",
    }
    assert on_demand == app_files - shell
    assert not shell & on_demand
    # index.html preloads what app.js needs to start, so a phone fetches it at once rather
    # than level by level; each role's screens load on demand (dynamic import).
    preloaded = set(
        re.findall(r'<link rel="modulepreload" href="([^"]+)">', (PWA / "index.html").read_text())
    )
    assert preloaded == static_imports("/app.js")


def static_imports(module: str) -> set[str]:
    """Every module reachable from `module` through static import statements."""
    found: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        text = (PWA / current.lstrip("/")).read_text()
        for target in re.findall(r'^import[^;]*?from\s+"([^"]+)"', text, re.M):
            path = posixpath.normpath(posixpath.join(posixpath.dirname(current), target))
            if path not in found:
                found.add(path)
                todo.append(path)
    return found


def test_offline_start_shows_the_shell(browser: Any, world: World) -> None:
    school = world.org()
    phone = enrol_phone(
        browser, world, "teacher", school, name="Juf Offline", class_label="groep 3"
    )
    phone.wait_for_service_worker()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("Signalen")
    phone.context.set_offline(True)
    phone.page.reload()
    # The home screen as it was last, kept on the device, marked as not current.
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("Signalen")
    stale = phone.page.get_by_text(re.compile(r"^Geen verbinding — bijgewerkt om \d\d:\d\d\.$"))
    expect(stale).to_be_visible()
    phone.shot("algemeen-geen-verbinding")
    phone.context.set_offline(False)
    phone.page.get_by_role("button", name="Vernieuwen").click()
    expect(stale).to_have_count(0)
    expect(phone.page.get_by_text("Geen nieuwe signalen.")).to_be_visible()
    assert phone.csp_problems() == []
    phone.close()


def test_notifications_fail_gracefully_without_push(browser: Any, world: World) -> None:
    """Headless Chromium cannot subscribe: the app says so and keeps working."""
    school = world.org()
    phone = enrol_phone(browser, world, "contact", school, name="Ans Zonderpush")
    phone.context.grant_permissions(["notifications"], origin=world.url)
    page = phone.page
    page.get_by_role("button", name="Meldingen aanzetten").click()
    expect(page.get_by_role("alert")).to_contain_text("Meldingen aanzetten is niet gelukt")
    expect(page.get_by_text("Meldingen staan uit").first).to_be_visible()
    phone.close()


# A stand-in for the push service's subscription (headless Chromium cannot make a real one).
FAKE_SUBSCRIPTION_JS = """
PushManager.prototype.subscribe = async function () {
  const json = {endpoint: 'https://fcm.googleapis.com/fcm/send/abc', expirationTime: null,
                keys: {p256dh: '%s', auth: 'AAAAAAAAAAAAAAAAAAAAAA'}};
  return {endpoint: json.endpoint, options: {}, toJSON: () => json, unsubscribe: async () => true};
};
PushManager.prototype.getSubscription = async function () { return null; };
"""


WAIT_FOR_NOTIFICATION_JS = """async (tag) => {
  const registration = await navigator.serviceWorker.ready;
  for (let i = 0; i < 400; i++) {
    const [shown] = await registration.getNotifications({tag});
    if (shown) return {title: shown.title, body: shown.body, url: shown.data.url};
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return null;
}"""


def test_notifications_turn_on_and_pushes_show_neutral_text(browser: Any, world: World) -> None:
    school = world.org()
    p256dh = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).rstrip(b"=").decode()
    phone = new_phone(browser, world.url)
    phone.context.add_init_script(FAKE_SUBSCRIPTION_JS % p256dh)
    phone.context.grant_permissions(["notifications"], origin=world.url)
    person = world.person("teacher", school, name="Meester Push", class_label="groep 7")
    phone.goto(f"/aanmelden#{world.enrol_link_token(person)}")
    page = phone.page
    page.get_by_role("button", name="Dit apparaat aanmelden").click()
    page.get_by_role("button", name="Meldingen aanzetten").click()
    expect(page.get_by_text("Meldingen staan aan.")).to_be_visible()
    phone.shot("algemeen-meldingen-aan")
    row = world.db.execute(
        "SELECT push_state, push FROM devices WHERE person_id = ?", [person]
    ).fetchone()
    assert row[0] == "active" and "fcm.googleapis.com" in row[1]
    phone.wait_for_service_worker()

    cdp = phone.context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    page.wait_for_function("() => true")  # let the replayed events arrive
    registration_id = next(r["registrationId"] for r in registrations if not r["isDeleted"])
    payload = {
        "web_push": 8030,
        "kind": "teacher_signal",
        "signal_id": "S" * 22,
        "notification": {
            "title": "Handle with Care",
            "body": "Nieuw signaal — open de app",
            "navigate": f"{world.url}/signaal/{'S' * 22}",
            "tag": "s1",
        },
    }
    shown = {}
    for data, tag in ((json.dumps(payload), "s1"), ("not json", "hwc")):
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": world.url, "registrationId": registration_id, "data": data},
        )
        shown[tag] = page.evaluate(WAIT_FOR_NOTIFICATION_JS, tag)
    assert shown["s1"] == {
        "title": "Handle with Care",
        "body": "Nieuw signaal — open de app",
        "url": f"{world.url}/signaal/{'S' * 22}",
    }
    # An unreadable payload still shows a notification, with neutral text of our own.
    assert shown["hwc"] == {
        "title": "Nieuw signaal",
        "body": "Open de app.",
        "url": f"{world.url}/",
    }

    # A click on the notification brings the open window to the signal.
    worker = phone.context.service_workers[0]
    worker.evaluate("""async () => {
      const [n] = (await self.registration.getNotifications()).filter((n) => n.tag === 's1');
      self.dispatchEvent(new NotificationEvent('notificationclick', {notification: n}));
    }""")
    page.wait_for_url(f"{world.url}/signaal/{'S' * 22}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Signaal verwijderd")
    assert phone.csp_problems() == []
    phone.close()


def test_pwa_has_no_inline_script_or_style() -> None:
    """CSP forbids them; catch them before a browser does."""
    html = (PWA / "index.html").read_text()
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    markup = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|eval\(")
    for path in Path(PWA).rglob("*.js"):
        if path.name == "admin.js":  # the server-rendered admin pages' script, not the app
            continue
        text = path.read_text()
        assert not markup.search(text), path
        assert "localStorage" not in text and "sessionStorage" not in text, path


VALIDATION_JS = """async (rule) => {
  const { nameProblem, cleanName, checkBirthDate } = await import('/views/sender.js');
  const today = new Date(2026, 10, 24);
  const names = ['Zoë', 'Ömer', "de Vries-Ƙ", "O'Brien", 'J. de Vries', 'Anne-Marie van den Berg',
                 'Zoe\\u0308', '', 'Jan2', 'Jan <b>', '-Jan', 'A'.repeat(100), 'A'.repeat(101)];
  const dates = [['4', '3', '2016'], ['31', '2', '2016'], ['', '', ''], ['1', '1', '2026'],
                 ['25', '11', '2024'], ['25', '11', '2004'], ['24', '11', '2004'],
                 ['4', '3', '16']];
  return {
    names: names.map((n) => [n, nameProblem(cleanName(n), rule)]),
    dates: dates.map(([d, m, y]) => checkBirthDate(d, m, y, rule, today)),
  };
}"""


def test_form_validation_rules(browser: Any, world: World) -> None:
    """Names: Unicode letters, spaces, hyphens, apostrophes, dots, 1-100; ages 2 to 21: the
    server's rule (server/policy.py) as /api/me serves it, applied by the app's form."""
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Utrecht"))
    rule = sender.get("/api/me").json()["policy"]["child"]
    phone = new_phone(browser, world.url)
    phone.goto("/toegankelijkheid")
    result = phone.page.evaluate(VALIDATION_JS, rule)
    valid = [name for name, problem in result["names"] if problem is None]
    assert valid == [
        "Zoë",
        "Ömer",
        "de Vries-Ƙ",
        "O'Brien",
        "J. de Vries",
        "Anne-Marie van den Berg",
        "Zoe\u0308",
        "A" * 100,
    ]
    dates = result["dates"]
    assert dates[0] == {"iso": "2016-03-04"}
    assert "geen bestaande datum" in dates[1]["error"]
    assert dates[2]["error"] == "Vul de geboortedatum in."
    assert "0 jaar" in dates[3]["error"] and "1 jaar" in dates[4]["error"]
    assert dates[5] == {"iso": "2004-11-25"}  # 21 until tomorrow
    assert "22 jaar" in dates[6]["error"]
    assert "geen bestaande datum" in dates[7]["error"]  # a two-digit year is refused
    phone.close()


def test_screens_reflow_at_320_px_and_in_dark_mode(browser: Any, world: World) -> None:
    """WCAG reflow: no sideways scrolling at 320 CSS px (= 1280 px at 400 %), dark mode too."""
    school = world.org(name="Openbare Basisschool Het Lange Woord Voorbeeld", place="Utrecht")
    for scheme in ("light", "dark"):
        phone = new_phone(browser, world.url, color_scheme=scheme)
        phone.page.set_viewport_size({"width": 320, "height": 640})
        person = world.person("contact", school, name="Wilhelmina Langenaam-Achternaam")
        phone.goto(f"/aanmelden#{world.enrol_link_token(person)}")
        phone.page.get_by_role("button", name="Dit apparaat aanmelden").click()
        phone.page.get_by_role("button", name="Verder naar de app").click()
        expect(phone.page.get_by_text("Geen nieuwe signalen.")).to_be_visible()
        overflow = phone.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        phone.shot(f"algemeen-320px-{scheme}")
        phone.close()


def test_iphone_outside_home_screen_is_told_to_add_it_first(browser: Any, world: World) -> None:
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.4 Mobile/15E148 Safari/604.1"
    )
    phone = new_phone(browser, world.url, user_agent=iphone)
    phone.context.add_init_script("delete window.PushManager;")  # as Safari outside the home screen
    person = world.person("teacher", world.org(), name="Juf iPhone", class_label="groep 1")
    phone.goto(f"/aanmelden#{world.enrol_link_token(person)}")
    page = phone.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Zet de app eerst op uw beginscherm")
    expect(page.get_by_text("Kies Zet op beginscherm")).to_be_visible()
    phone.shot("algemeen-iphone-beginscherm")
    page.get_by_role("button", name="Toch hier aanmelden, zonder meldingen").click()
    page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dit apparaat is aangemeld")
    # Never possible here until the home screen: said so, and nothing to turn on.
    expect(page.get_by_text("pas als de app op het beginscherm staat")).to_be_visible()
    expect(page.get_by_role("button", name="Meldingen aanzetten")).to_have_count(0)
    phone.close()


def test_a_browser_that_dropped_the_cookie_is_told_and_can_try_again(
    browser: Any, world: World
) -> None:
    """The enrolment's answer loses its cookie (as WebKit on plain http does): no "aangemeld",
    a plain explanation, and "Opnieuw proberen" works with the same link once cookies come."""
    phone = new_phone(browser, world.url)
    page = phone.page

    def without_cookie(route: Any) -> None:
        response = route.fetch()
        phone.context.clear_cookies()  # route.fetch() keeps cookies in the context's own jar
        headers = {k: v for k, v in response.headers.items() if k.lower() != "set-cookie"}
        route.fulfill(response=response, headers=headers)

    page.route("**/api/enrol", without_cookie)
    person = world.person("teacher", world.org(), name="Juf Koekje", class_label="groep 3")
    phone.goto(f"/aanmelden#{world.enrol_link_token(person)}")
    page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Aanmelden is niet gelukt")
    expect(page.get_by_role("alert")).to_contain_text("heeft de aanmelding niet bewaard")
    expect(page.get_by_text("Uw aanmeldlink werkt nog 10 minuten.")).to_be_visible()
    assert not phone.has_device_key()  # nothing kept for a device the server will replace
    phone.shot("algemeen-aanmelding-niet-bewaard")
    page.unroute("**/api/enrol")
    page.get_by_role("button", name="Opnieuw proberen").click()
    page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dit apparaat is aangemeld")
    assert phone.has_device_key()
    devices = world.db.execute(
        "SELECT count(*) FROM devices WHERE person_id = ? AND revoked_at IS NULL", [person]
    ).fetchone()[0]
    assert devices == 1
    phone.close()


def test_refused_notifications_are_told_apart_from_impossible_ones(
    browser: Any, world: World
) -> None:
    phone = new_phone(browser, world.url)
    phone.context.add_init_script(
        "Object.defineProperty(Notification, 'permission', {get: () => 'denied'});"
    )
    person = world.person("teacher", world.org(), name="Juf Nee", class_label="groep 2")
    phone.goto(f"/aanmelden#{world.enrol_link_token(person)}")
    page = phone.page
    page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dit apparaat is aangemeld")
    expect(page.get_by_text("Meldingen zijn geweigerd op dit apparaat.")).to_be_visible()
    expect(page.get_by_text("kan geen meldingen ontvangen")).to_have_count(0)
    expect(page.get_by_role("button", name="Meldingen aanzetten")).to_have_count(0)
    phone.close()


def test_the_enrolment_link_leaves_no_token_in_the_profile(
    browser: Any, world: World, tmp_path: Path
) -> None:
    """A link opened in a new tab, as from a mail or a QR code: before anything else runs the
    token leaves the URL (not in the address bar or the page's history), the person enrols,
    and once Chromium has closed, its session and tab-restore files hold no trace of it."""
    token = world.enrol_link_token(world.person("teacher", world.org(), name="Juf Link"))
    profile = tmp_path / "profile"
    context = browser.browser_type.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    try:
        blank = context.pages[0] if context.pages else context.new_page()
        with context.expect_page() as opened:
            context.new_cdp_session(blank).send(
                "Target.createTarget", {"url": f"{world.url}/aanmelden#{token}"}
            )
        blank.close()  # the link's tab is the only one, as when a phone opens a link
        page = opened.value
        expect(page.get_by_role("heading", level=1)).to_have_text("Dit apparaat aanmelden")
        assert page.evaluate("[location.href, history.length, window.name]") == [
            f"{world.url}/aanmelden",
            1,
            "",
        ]
        page.get_by_role("button", name="Dit apparaat aanmelden").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Dit apparaat is aangemeld")
        page.wait_for_timeout(3000)  # Chromium saves the session a few seconds after a change
    finally:
        context.close()
    records = session_records(profile)
    every = b"".join(records.values())
    assert f"{world.url}/aanmelden".encode() in every  # the control: the files were read
    signature = token.rsplit(".", 1)[1]
    for needle in (token, signature):
        for encoded in (needle.encode(), needle.encode("utf-16-le")):
            assert [name for name, data in records.items() if encoded in data] == [], needle


WORKERS_JS = """async () => {
  const registration = await navigator.serviceWorker.getRegistration();
  return {waiting: registration.waiting !== null, caches: await caches.keys(),
          inControl: navigator.serviceWorker.controller === registration.active};
}"""


def test_new_version_waits_until_the_user_reloads(
    browser: Any, own_pwa_world: tuple[World, Path]
) -> None:
    world, pwa = own_pwa_world
    phone = new_phone(browser, world.url)
    phone.goto("/toegankelijkheid")
    phone.wait_for_service_worker()
    page = phone.page
    old_version = page.evaluate("caches.keys()")
    release_next_version(pwa)
    # The app checks for a new worker when it comes back into view; this is that check.
    page.evaluate("async () => (await navigator.serviceWorker.getRegistration()).update()")
    bar = page.get_by_role("button", name="Nieuwe versie — herladen")
    expect(bar).to_be_visible()
    phone.shot("algemeen-nieuwe-versie")
    # Still the old worker in control until the tap; the new one waits with its own cache.
    assert page.evaluate(WORKERS_JS) == {
        "waiting": True,
        "inControl": True,
        "caches": [*old_version, "hwc-shell-next"],
    }
    with page.expect_navigation():
        bar.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Toegankelijkheidsverklaring")
    assert page.evaluate(WORKERS_JS) == {
        "waiting": False,
        "inControl": True,
        "caches": ["hwc-shell-next"],
    }
    expect(page.get_by_role("button", name="Nieuwe versie — herladen")).to_have_count(0)
    assert phone.csp_problems() == []
    phone.close()
