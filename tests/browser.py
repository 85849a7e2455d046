"""Browser helpers: one phone (a Playwright context of its own) per person, enrolled through the
app's own enrolment screen, with its console watched and screenshots at phone size."""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from tests.support import World

ROOT = Path(__file__).resolve().parents[1]
SERVICE_WORKER = ROOT / "pwa" / "sw.js"
SCREENSHOTS = ROOT / "screenshots"
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000

# Everything a page can keep on the device, as one JSON text: for "no name anywhere" checks.
STORAGE_DUMP_JS = """async () => {
  const out = {local: {...localStorage}, session: {...sessionStorage}, caches: {}, idb: {}};
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      out.caches[`${name} ${request.url}`] = await response.text();
    }
  }
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((ok, fail) => {
      const r = indexedDB.open(info.name); r.onsuccess = () => ok(r.result); r.onerror = fail;
    });
    for (const store of db.objectStoreNames) {
      const rows = await new Promise((ok, fail) => {
        const r = db.transaction(store).objectStore(store).getAll();
        r.onsuccess = () => ok(r.result); r.onerror = fail;
      });
      const plain = (k, v) => (v instanceof Uint8Array ? Array.from(v)
        : (v instanceof CryptoKey ? `CryptoKey ${v.type}` : v));
      out.idb[`${info.name}/${store}`] = rows.map((row) => JSON.stringify(row, plain));
    }
    db.close();
  }
  return JSON.stringify(out);
}"""

HAS_DEVICE_KEY_JS = """async () => {
  const dbs = await indexedDB.databases();
  if (!dbs.some((d) => d.name === 'hwc-device')) return false;
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open('hwc-device'); r.onsuccess = () => ok(r.result); r.onerror = fail;
  });
  const found = await new Promise((ok) => {
    if (!db.objectStoreNames.contains('device')) return ok(false);
    const r = db.transaction('device').objectStore('device').get('self');
    r.onsuccess = () => ok(Boolean(r.result)); r.onerror = () => ok(false);
  });
  db.close();
  return found;
}"""


AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def axe_violations(page: Page) -> list[str]:
    """WCAG 2.1 A/AA problems axe-core finds on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(Axe().axe_script)
    results = page.evaluate(f"axe.run(document, {json.dumps(AXE_OPTIONS)})")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in results["violations"]
    ]


@dataclass
class Phone:
    """A person's phone: its own browser context (cookies, IndexedDB, service worker)."""

    context: BrowserContext
    page: Page
    base_url: str
    person_id: str = ""
    name: str = ""
    console_errors: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)  # every URL the page or worker asked for
    page_errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def shot(self, name: str) -> None:
        """Save a phone-size screenshot, and check the screen with axe while it is there."""
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        problems = axe_violations(self.page)
        assert problems == [], f"{name}: {problems}"

    def storage(self) -> str:
        return str(self.page.evaluate(STORAGE_DUMP_JS))

    def has_device_key(self) -> bool:
        return bool(self.page.evaluate(HAS_DEVICE_KEY_JS))

    def wait_for_service_worker(self) -> None:
        self.page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    def csp_problems(self) -> list[str]:
        """Page errors and CSP violations; 'Failed to load resource' for an expected 4xx is fine."""
        csp = [e for e in self.console_errors if "Content Security Policy" in e]
        return self.page_errors + csp

    def close(self) -> None:
        self.context.close()


def new_phone(browser: Any, base_url: str, **context_options: Any) -> Phone:
    context = browser.new_context(
        viewport=PHONE, locale="nl-NL", timezone_id="Europe/Amsterdam", **context_options
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    phone = Phone(context, page, base_url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            phone.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: phone.page_errors.append(str(error)))
    context.on("request", lambda request: phone.requested.append(request.url))
    return phone


def enrol_phone(
    browser: Any,
    world: World,
    role: str,
    org_id: str | None,
    name: str = "",
    class_label: str = "",
    shot: str | None = None,
) -> Phone:
    """Register a person and enrol a fresh phone for them through the enrolment screen."""
    person_id = world.person(role, org_id, name=name, class_label=class_label)
    phone = new_phone(browser, world.url)
    phone.person_id = person_id
    phone.name = name
    phone.goto(f"/aanmelden#{world.enrol_link_token(person_id)}")
    page = phone.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Dit apparaat aanmelden")
    if shot:
        phone.shot(f"{shot}-01-aanmelden")
    page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dit apparaat is aangemeld")
    expect(page.get_by_text("Meldingen staan uit")).to_be_visible()
    assert "#" not in page.url and page.url.rstrip("/") == world.url, page.url
    if shot:
        phone.shot(f"{shot}-02-aangemeld")
    page.get_by_role("button", name="Verder naar de app").click()
    return phone


# --- the key log's screens (issue 19) ---------------------------------------------------------


def trust_area(phone: Phone) -> Any:
    """Where the app puts approval requests and key log warnings, above each screen."""
    return phone.page.locator("#trust")


def enrol_pending(browser: Any, world: World, token: str, label: str) -> tuple[Phone, str]:
    """A new device enrolling with `token` for a person who already has one: it waits and
    shows its comparison code ("482 731"), returned with the phone."""
    phone = new_phone(browser, world.url)
    phone.goto(f"/aanmelden#{token}")
    phone.page.get_by_label("Naam van dit apparaat").fill(label)
    phone.page.get_by_role("button", name="Dit apparaat aanmelden").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("Wacht op goedkeuring")
    code = phone.page.locator("#device-code").text_content() or ""
    assert len(code) == 7 and code[3] == " ", code
    return phone, code


def answer_on(phone: Phone, code: str, choice: str) -> None:
    """On the person's existing phone: the request names the code; tap Toestaan or Weigeren."""
    phone.goto("/")
    area = trust_area(phone)
    expect(area).to_contain_text(f"code {code}")
    expect(area).to_contain_text("staat dezelfde code op het nieuwe apparaat?")
    area.get_by_role("button", name=choice).click()
    expect(area).to_contain_text("is toegevoegd" if choice == "Toestaan" else "is geweigerd")


def recipient_ids(world: World, sender: Any, school: str) -> list[str]:
    """The device ids the server would have a sender encrypt to for `school`."""
    answer = sender.get(f"/api/schools/{school}/recipients").json()
    return [d["device_id"] for d in answer["devices"]]


def sw_list(name: str) -> list[str]:
    """The paths of one of sw.js's lists (`const SHELL = [...]`, `const ON_DEMAND = [...]`)."""
    found = re.search(rf"const {name} = \[(.*?)\];", SERVICE_WORKER.read_text(), re.S)
    assert found, f"sw.js must list `const {name} = [...]`"
    return re.findall(r'"([^"]*)"', found.group(1))


def release_next_version(pwa: Path, version: str = "hwc-shell-next") -> None:
    """What a deployment of changed app files does: sw.js with another VERSION."""
    sw = pwa / "sw.js"
    text, count = re.subn(
        r'const VERSION = "[^"]+";', f'const VERSION = "{version}";', sw.read_text()
    )
    assert count == 1
    sw.write_text(text)


def years_ago(years: int, today: date | None = None) -> date:
    today = today or date.today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


DUTCH_MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)


def dutch_date(day: date) -> str:
    return f"{day.day} {DUTCH_MONTHS[day.month - 1]} {day.year}"


REF = re.compile(r"HWC-[2-9A-HJ-NP-Z]{4}")


def as_json(value: Any) -> str:
    return json.dumps(value)


# --- what Chromium keeps of a tab's history on disk -------------------------------------------

# Debian Chromium writes each session twice: Sessions/ (plain SNSS records) and
# Sessions_Encrypted/ (records "v10" + AES-128-CBC, the key derived from the fixed password
# "peanuts" as on any Linux without a keyring; see ../shared/TESTING.md).
SESSION_KEY = hashlib.pbkdf2_hmac("sha1", b"peanuts", b"saltysalt", 1, 16)


def session_records(profile: Path) -> dict[str, bytes]:
    """Every session and tab-restore file of a closed profile, encrypted records decrypted."""
    found = {}
    for path in sorted(profile.glob("Default/Sessions*/*")):
        data = path.read_bytes()
        if path.parent.name.endswith("_Encrypted"):
            data = b"".join(_decrypted_records(data))
        found[f"{path.parent.name}/{path.name}"] = data
    return found


def _decrypted_records(data: bytes) -> list[bytes]:
    records, position = [], 8  # after the "SNSS" header and its version
    while position + 4 <= len(data):
        (size,) = struct.unpack_from("<I", data, position)
        record = data[position + 4 : position + 4 + size]
        position += 4 + size
        if record.startswith(b"v10"):
            decryptor = Cipher(algorithms.AES(SESSION_KEY), modes.CBC(b" " * 16)).decryptor()
            padded = decryptor.update(record[3:]) + decryptor.finalize()
            record = padded[: -padded[-1]]
        records.append(record)
    return records
