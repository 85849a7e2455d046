"""Push for real, end to end: the sender's signal → the outbox worker → a push service that
verifies VAPID and decrypts (the fake) → the contact's service worker via the DevTools protocol
→ a neutral notification → a click opens the app at the signal, decrypted on the device."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser import new_phone
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, live_world
from tests.fakepush_server import running_fake_push
from tests.support import World

NAME, BORN = "Xylofoon Quaggazwemmer", "2014-03-02"

# The browser's own subscribe() cannot reach a push service here; it returns the subscription
# the fake push service issued (whose keys that service holds, so it can decrypt what it gets).
SUBSCRIPTION_JS = """
const issued = %s;
PushManager.prototype.subscribe = async function () {
  return {endpoint: issued.endpoint, options: {}, toJSON: () => issued,
          unsubscribe: async () => true};
};
PushManager.prototype.getSubscription = async function () { return null; };
"""

NOTIFICATIONS_JS = """async () => {
  const registration = await navigator.serviceWorker.ready;
  for (let i = 0; i < 400; i++) {
    const shown = await registration.getNotifications();
    if (shown.length) return shown.map((n) => ({title: n.title, body: n.body, tag: n.tag,
                                               url: n.data && n.data.url}));
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return [];
}"""


def _registration_id(phone: Any) -> tuple[Any, str]:
    cdp = phone.context.new_cdp_session(phone.page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    phone.page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    for _ in range(100):
        live = [r["registrationId"] for r in registrations if not r["isDeleted"]]
        if live:
            return cdp, live[0]
        time.sleep(0.02)
    raise AssertionError("no service worker registration")


def test_a_real_push_reaches_the_contact_and_opens_the_signal(browser: Any, tmp_path: Path) -> None:
    with (
        running_fake_push() as (_, service),
        live_world(tmp_path / "push.db", run_workers=True) as world,
    ):
        school = world.org()
        sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis"))
        person = world.person("contact", school, name="Ingrid Bakker")
        phone = new_phone(browser, world.url)
        phone.context.add_init_script(SUBSCRIPTION_JS % json.dumps(service.subscribe()))
        phone.context.grant_permissions(["notifications"], origin=world.url)
        phone.goto(f"/aanmelden#{world.enrol_link_token(person)}")
        page = phone.page
        page.get_by_role("button", name="Dit apparaat aanmelden").click()
        page.get_by_role("button", name="Meldingen aanzetten").click()
        expect(page.get_by_text("Meldingen staan aan.")).to_be_visible()
        cdp, registration_id = _registration_id(phone)

        sent = world.send(sender, school, NAME, BORN)
        assert sent.status_code == 201
        signal_id = sent.json()["id"]
        for _ in range(250):
            if service.messages:
                break
            time.sleep(0.02)
        [message] = service.messages  # verified and decrypted by the push service
        assert NAME not in message["payload"] and BORN not in message["payload"]
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": world.url, "registrationId": registration_id, "data": message["payload"]},
        )
        [shown] = page.evaluate(NOTIFICATIONS_JS)
        assert shown == {
            "title": "Nieuw signaal",
            "body": "Er is een nieuw Handle with Care-signaal. Open de app.",
            "tag": signal_id,
            "url": f"{world.url}/signaal/{signal_id}",
        }

        page.goto(f"{world.url}/toegankelijkheid")  # somewhere else, then click
        phone.context.service_workers[0].evaluate("""async () => {
          const [n] = await self.registration.getNotifications();
          self.dispatchEvent(new NotificationEvent('notificationclick', {notification: n}));
        }""")
        page.wait_for_url(f"{world.url}/signaal/{signal_id}")
        expect(page.get_by_text(NAME)).to_be_visible()  # decrypted on this device only
        assert phone.csp_problems() == []
        phone.close()


def test_installable_per_chromium(browser: Any, world: World, tmp_path: Path) -> None:
    """Chromium's own installability check, in a persistent profile (incognito never is)."""
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"{world.url}/aanmelden")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        cdp = context.new_cdp_session(page)
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        assert errors == []
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == [] and "Handle with Care" in manifest["data"]
    finally:
        context.close()
