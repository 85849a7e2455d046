"""Lighthouse on the main screens, as an enrolled phone sees them (mobile emulation).

Lighthouse's own fresh profile would hold no device key, so it audits a Chromium in which each
person enrolled through the app first: Chromium runs with a debugging port on a kept profile,
the person enrols over CDP with Playwright, and Lighthouse audits with storage reset disabled.

Every audit gets a freshly started Chromium on that profile, as Lighthouse's own launcher does
and as a phone opening the app in the morning is: a browser that already ran audits carries
their scripts (axe, among others) in its renderer, and Lighthouse's coverage and debugger
instrumentation then walks that heap in one long task at the start of the next load.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.npmtools import npm_tool
from tests.support import World, free_socket

TARGETS = {"performance": 0.95, "accessibility": 1.0, "best-practices": 1.0}
# Lighthouse's performance score varies with load on a shared 2-core machine (its own docs
# advise repeated runs), so a miss is re-audited; every run is printed.
PERFORMANCE_RUNS = 3
# Lighthouse's trace recording now and then misses the navigation start on a busy machine
# (runtime error NO_NAVSTART); it asks to be run again, so a few attempts are allowed.
TRACE_ATTEMPTS = 3


@contextmanager
def debug_chromium(profile: Path, closes_itself: bool = False) -> Iterator[str]:
    """A Chromium on `profile` with a debugging port, stopped on exit (the profile stays).
    `closes_itself`: the caller closes it over CDP; wait for it to finish writing the profile."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            *CHROMIUM_ARGS,
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{endpoint}/json/version", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield endpoint
    finally:
        try:
            process.wait(timeout=15 if closes_itself else 0)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=10)


ROLE_SCREEN_CACHED_JS = """async (path) => {
  for (let i = 0; i < 400; i++) {
    if (await caches.match(path)) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return false;
}"""


def _enrol(browser: Any, profile: Path, world: World, role: str, person_id: str) -> None:
    with debug_chromium(profile, closes_itself=True) as endpoint:
        remote = browser.browser_type.connect_over_cdp(endpoint)
        try:
            page = remote.contexts[0].new_page()
            page.goto(f"{world.url}/aanmelden#{world.enrol_link_token(person_id)}")
            page.get_by_role("button", name="Dit apparaat aanmelden").click()
            page.get_by_role("heading", name="Dit apparaat is aangemeld").wait_for()
            # On into the app, as a phone does after enrolling: its role's screens load (and
            # the service worker keeps them) before the audited morning start.
            with page.expect_response(lambda r: r.url.endswith("/api/signals") and r.ok):
                page.get_by_role("button", name="Verder naar de app").click()
            assert page.evaluate(ROLE_SCREEN_CACHED_JS, f"/views/{role}.js")
            page.close()
            # Only a clean shutdown writes the cookie to the profile (SIGTERM loses it).
            remote.new_browser_cdp_session().send("Browser.close")
        finally:
            remote.close()


def _audit(profile: Path, url: str, out: Path) -> dict[str, float]:
    """One Lighthouse audit. A failed trace recording (NO_NAVSTART and its kin, for which
    Lighthouse itself says "Please run Lighthouse again") is run again, up to the limit;
    any other failure fails at once."""
    for attempt in range(1, TRACE_ATTEMPTS + 1):
        with debug_chromium(profile) as endpoint:
            port = endpoint.rsplit(":", 1)[1]
            run = subprocess.run(
                [
                    str(npm_tool("lighthouse@12", "lighthouse")),
                    url,
                    f"--port={port}",
                    "--disable-storage-reset",
                    "--only-categories=performance,accessibility,best-practices",
                    "--output=json",
                    f"--output-path={out}",
                    "--quiet",
                    "--max-wait-for-load=30000",
                ],
                capture_output=True,
                text=True,
                timeout=180,
                env={"PATH": "/usr/bin:/bin", "HOME": str(out.parent)},
            )
        if run.returncode == 0:
            break
        print(f"Lighthouse attempt {attempt} on {url} failed:\n{run.stderr}")
        if "run Lighthouse again" not in run.stderr or attempt == TRACE_ATTEMPTS:
            raise AssertionError(f"Lighthouse failed on {url}: {run.stderr[-2000:]}")
    report = json.loads(out.read_text())
    return {name: category["score"] for name, category in report["categories"].items()}


def _loaded_signals(report_path: Path) -> bool:
    """Whether the audited load fetched the signal list: proof the device was still enrolled."""
    requests = json.loads(report_path.read_text())["audits"]["network-requests"]["details"]
    return any(
        r["url"].endswith("/api/signals") and r["statusCode"] == 200 for r in requests["items"]
    )


def _audit_screen(profile: Path, url: str, out: Path) -> list[dict[str, float]]:
    """Every audit of one screen; a performance miss is audited again, up to the limit."""
    runs = [_audit(profile, url, out)]
    while (
        max(r["performance"] for r in runs) < TARGETS["performance"]
        and len(runs) < PERFORMANCE_RUNS
    ):
        runs.append(_audit(profile, url, out))
    return runs


def test_lighthouse_scores_on_the_main_screens(
    browser: Any, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "profile"
    school = world.org()
    runs = {
        page: _audit_screen(profile, f"{world.url}/{page}", tmp_path / f"{page}.json")
        for page in ("aanmelden", "privacy")
    }
    for role, org in (
        ("sender", world.org("veilig_thuis", "Veilig Thuis")),
        ("contact", school),
        ("teacher", school),
    ):
        _enrol(browser, profile, world, role, world.person(role, org))
        runs[role] = _audit_screen(profile, f"{world.url}/", tmp_path / f"{role}.json")
        assert _loaded_signals(tmp_path / f"{role}.json"), f"{role}: audited while not enrolled"
    scores = {
        screen: max(audits, key=lambda r: r["performance"]) for screen, audits in runs.items()
    }
    with capsys.disabled():  # the scores belong in every run's output, passing or not
        print("\nLighthouse (mobile):")
        for screen, score in scores.items():
            every = [round(r["performance"] * 100) for r in runs[screen]]
            print(
                f"  {screen:10} "
                + "  ".join(f"{k} {v * 100:.0f}" for k, v in score.items())
                + (f"  (performance runs {every})" if len(every) > 1 else "")
            )
    misses = {
        screen: {k: v for k, v in score.items() if v < TARGETS[k]}
        for screen, score in scores.items()
    }
    assert {s: m for s, m in misses.items() if m} == {}
