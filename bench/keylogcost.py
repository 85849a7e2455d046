"""The key log's cost in the browser (issue 19): verifying a school's log of 200 entries with
pwa/keylog.js in Debian's Chromium under a 4x CPU slowdown (CDP Emulation.setCPUThrottlingRate),
as the app does before every send and at every start. The log is built in the page with real
keys (tests/js/keylogbuild.mjs); the timing excludes the fetch. tests/test_browser_keylog.py
checks the same figure against the budget."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("HWC_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
ENTRIES = 200
SLOWDOWN = 4  # a mid-range phone, as Lighthouse's mobile profile
BUDGET_MS = 50.0

# A school of 200 entries: 60 people, their first devices by link, 30 further devices approved
# on a sibling, 20 revoked, 30 role changes; built unthrottled in the page.
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
    if (verified.head.size !== answer.entries.length) throw new Error('wrong size');
  }
  return times.sort((a, b) => a - b);
}"""


def serve_sources(page: Page) -> None:
    """/pwa/* and /tests/js/* straight from the working tree, so the test modules' relative
    imports (../../pwa/keylog.js) resolve: one instance of keylog.js for everything."""

    def fulfil(route: Route) -> None:
        path = ROOT / route.request.url.split("/", 3)[3].split("?")[0]
        route.fulfill(body=path.read_text(), content_type="text/javascript")

    page.route("**/pwa/**/*.js", fulfil)
    page.route("**/tests/js/*.mjs", fulfil)


def source_page(browser: Any, base_url: str) -> Page:
    """A page of the app's origin (a secure context) without its service worker."""
    page = browser.new_context(service_workers="block").new_page()
    serve_sources(page)
    page.goto(base_url + "/privacy")
    return page


def verify_times_ms(page: Page, slowdown: int, runs: int = 7) -> list[float]:
    """Sorted times of verifying the built log under a CPU slowdown."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
    try:
        return list(page.evaluate(TIME_VERIFY_JS, runs))
    finally:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})


def school_page(browser: Any, base_url: str) -> Page:
    """A page holding the built 200-entry log, warmed up (modules compiled, WebCrypto ready)."""
    page = source_page(browser, base_url)
    assert page.evaluate(BUILD_SCHOOL_JS) == ENTRIES
    verify_times_ms(page, 1, runs=2)
    return page


def measure(port: int) -> dict[str, Any]:
    """{entries, slowdown, best_ms, median_ms, worst_ms} against the server on `port`."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            times = verify_times_ms(school_page(browser, f"http://127.0.0.1:{port}"), SLOWDOWN)
        finally:
            browser.close()
    return {
        "entries": ENTRIES,
        "slowdown": SLOWDOWN,
        "best_ms": times[0],
        "median_ms": times[len(times) // 2],
        "worst_ms": times[-1],
    }
