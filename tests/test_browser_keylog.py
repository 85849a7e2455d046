"""pwa/keylog.js in Debian's Chromium: every committed key log vector (tests/vectors/keylog/)
gets its verdict, and a school's 200-entry log verifies fast enough on a slow phone."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page, Route

from tests.browser import ROOT
from tests.support import World

VECTOR_DIR = ROOT / "tests/vectors/keylog"
VECTORS = {p.stem: json.loads(p.read_text()) for p in VECTOR_DIR.glob("*.json")}
SLOWDOWN = 4  # a mid-range phone, as Lighthouse's mobile profile
BUDGET_MS = 50  # issue 19: a school's log of 200 entries


def serve_sources(page: Page) -> None:
    """/pwa/* and /tests/js/* straight from the working tree, so the test modules' relative
    imports (../../pwa/keylog.js) resolve; one module instance of keylog.js for everything."""

    def fulfil(route: Route) -> None:
        path = ROOT / route.request.url.split("/", 3)[3].split("?")[0]
        route.fulfill(body=path.read_text(), content_type="text/javascript")

    page.route("**/pwa/*.js", fulfil)
    page.route("**/tests/js/*.mjs", fulfil)


def source_page(browser: Any, world: World) -> Page:
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    serve_sources(page)
    page.goto(world.url + "/privacy")
    return page


RUN_VECTORS_JS = """async (vectors) => {
  const keylog = await import('/pwa/keylog.js');
  const { vectorVerdicts } = await import('/tests/js/keylogvectors.mjs');
  return vectorVerdicts(keylog, vectors);
}"""


def test_every_key_log_vector_gets_its_verdict_in_chromium(browser: Any, world: World) -> None:
    page = source_page(browser, world)
    verdicts = page.evaluate(RUN_VECTORS_JS, VECTORS)
    assert {v["name"] for v in verdicts} == set(VECTORS)
    assert [v for v in verdicts if not v["ok"]] == []
    refused = {v["name"] for v in verdicts if v["detail"].startswith("refused")}
    assert {"fork", "truncated", "bad-head-signature", "missing-approval"} <= refused
    page.context.close()


# A school of 200 entries: 60 people, their first devices by link, 30 further devices approved
# on a sibling, 20 revoked; built (unthrottled) in the page with real keys.
BUILD_SCHOOL_JS = """async () => {
  const { LogBuilder, newLogKey } = await import('/tests/js/keylogbuild.mjs');
  const keylog = await import('/pwa/keylog.js');
  const log = new LogBuilder('school-200');
  for (let p = 0; p < 60; p++) await log.person(`p${p}`, p < 10 ? 'contact' : 'teacher');
  for (let p = 0; p < 90; p++) await log.device(`p${p % 60}`, `d${p}`, p < 60 ? 'link' : 'approved',
    p < 60 ? undefined : `d${p - 60}`);
  for (let p = 0; p < 20; p++) await log.append('device_revoked', `device:d${p}`,
    { person: `p${p}`, device: `d${p + 60}` });
  for (let p = 20; p < 50; p++) await log.append('role_changed', 'admin:p0',
    { person: `p${p}`, role: 'teacher' });
  const logKey = await newLogKey();
  const { head } = await keylog.verifyLog('school-200', log.entries);
  window.school = { key: logKey.key, answer: { org: 'school-200', entries: log.entries,
    head: await logKey.sign(head) } };
  return log.entries.length;
}"""

TIME_VERIFY_JS = """async (runs) => {
  const keylog = await import('/pwa/keylog.js');
  const times = [];
  for (let i = 0; i < runs; i++) {
    const answer = structuredClone(window.school.answer);
    const start = performance.now();
    const verified = await keylog.verifyLogAnswer('school-200', answer, window.school.key);
    times.push(performance.now() - start);
    if (verified.head.size !== 200) throw new Error('wrong size');
  }
  return times.sort((a, b) => a - b);
}"""


def verify_times_ms(page: Page, slowdown: int, runs: int = 7) -> list[float]:
    """Times of verifying the built log (fetch excluded) under a CPU slowdown (CDP)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
    try:
        return list(page.evaluate(TIME_VERIFY_JS, runs))
    finally:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})


def test_a_school_log_of_200_entries_verifies_within_budget(browser: Any, world: World) -> None:
    page = source_page(browser, world)
    assert page.evaluate(BUILD_SCHOOL_JS) == 200
    verify_times_ms(page, 1, runs=2)  # warm up: modules compiled, WebCrypto initialised
    # The best of 7 runs is the machine's capability; other engineers' load on this shared
    # machine only adds, so a round over budget is measured again (at most three rounds).
    for _ in range(3):
        times = verify_times_ms(page, SLOWDOWN)
        print(
            f"\nkey log of 200 entries, {SLOWDOWN}x CPU slowdown: median "
            f"{times[len(times) // 2]:.1f} ms, best {times[0]:.1f} ms, worst {times[-1]:.1f} ms"
        )
        if times[0] < BUDGET_MS:
            break
    assert times[0] < BUDGET_MS, times
    page.context.close()
