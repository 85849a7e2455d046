"""Firefox and WebKit from Debian's packages, each driven by its own engine's protocol (no
downloaded browser, no extra driver): Firefox ESR over WebDriver BiDi (its built-in remote
agent), WebKitGTK over W3C WebDriver (`WebKitWebDriver`) on an Xvfb screen. Chromium keeps
Playwright. A tab of any of them is driven the same way, by JavaScript run in the page
(`Tab.call`), so one story runs in all three (tests/test_browser_engines.py)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Protocol

import pytest

from bench.common import free_port

FIREFOX = os.environ.get("HWC_FIREFOX", "/usr/bin/firefox-esr")
WEBKIT_DRIVER = os.environ.get("HWC_WEBKIT_DRIVER", "/usr/bin/WebKitWebDriver")
XVFB = "/usr/bin/Xvfb"
START_TIMEOUT = 60.0
# Firefox: no first-run pages, no calls home; BiDi only. Notifications are neither granted nor
# refused: headless Firefox shows no prompt, so requestPermission() would stay pending.
FIREFOX_PREFS = {
    "remote.active-protocols": 1,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "dom.push.connection.enabled": False,
}


def require(path: str, package: str) -> None:
    """A missing engine fails the test, never skips it."""
    if shutil.which(path) is None:
        pytest.fail(f"{path} not found: install Debian's {package} package (bash tests/run does)")


class Tab(Protocol):
    """One page of one engine, in a profile of its own (a phone)."""

    def goto(self, url: str) -> None: ...

    def call(self, function: str, *args: Any) -> Any:
        """Run a JavaScript function (it may be async) with JSON arguments; its JSON result."""
        ...

    def close(self) -> None: ...


# The function is wrapped so that every engine returns its result as one JSON text.
def _wrapped(function: str) -> str:
    return f"async (...args) => JSON.stringify(await ({function})(...args)) ?? 'null'"


# --- Firefox over WebDriver BiDi ------------------------------------------------------------


class Firefox:
    """One Firefox process; each tab in a user context of its own (cookies, storage, workers)."""

    def __init__(self) -> None:
        from websockets.sync.client import connect

        require(FIREFOX, "firefox-esr")
        self.profile = Path(tempfile.mkdtemp(prefix="hwc-firefox-"))
        prefs = "".join(f'user_pref("{k}", {json.dumps(v)});\n' for k, v in FIREFOX_PREFS.items())
        (self.profile / "user.js").write_text(prefs)
        self.log = self.profile / "stderr.log"
        command = [FIREFOX, "--headless", "--remote-debugging-port=0", "--no-remote"]
        with self.log.open("w") as err:
            self.process = subprocess.Popen(
                [*command, "--profile", str(self.profile)], stdout=subprocess.DEVNULL, stderr=err
            )
        self.connection = ExitStack()
        try:
            url = self._bidi_url() + "/session"
            self.ws = self.connection.enter_context(connect(url, max_size=None, open_timeout=30))
            self.ids = itertools.count(1)
            capabilities = {"alwaysMatch": {"acceptInsecureCerts": True}}
            self.command("session.new", {"capabilities": capabilities})
            self.page_errors: list[str] = []  # uncaught errors in any page, as they come
            self.command("session.subscribe", {"events": ["log.entryAdded"]})
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise

    def _bidi_url(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                if "WebDriver BiDi listening on " in line:
                    return line.split("listening on ", 1)[1].strip()
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"Firefox did not start: {self.log.read_text()[-2000:]}")

    def command(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        number = next(self.ids)
        self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=120))
            if message.get("id") != number:
                self._event(message)
                continue
            if message.get("type") == "error":
                raise RuntimeError(f"{method}: {message.get('error')}: {message.get('message')}")
            return dict(message["result"])

    def _event(self, message: dict[str, Any]) -> None:
        entry = message.get("params", {})
        if message.get("method") == "log.entryAdded" and entry.get("type") == "javascript":
            self.page_errors.append(f"{entry.get('text')} ({entry.get('source', {})})")

    def new_tab(self) -> FirefoxTab:
        user_context = self.command("browser.createUserContext", {})["userContext"]
        created = self.command(
            "browsingContext.create", {"type": "tab", "userContext": user_context}
        )
        return FirefoxTab(self, created["context"], user_context)

    def close(self) -> None:
        try:
            self.command("browser.close", {})
            self.process.wait(timeout=30)
        except Exception:  # noqa: BLE001 - a browser that will not close is killed
            self.process.kill()
            self.process.wait()
        self.connection.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def _bidi_value(value: Any) -> dict[str, Any]:
    """A JSON value as a BiDi local value (what `call` passes: strings, numbers, lists)."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, int | float):
        return {"type": "number", "value": value}
    if isinstance(value, list):
        return {"type": "array", "value": [_bidi_value(v) for v in value]}
    return {"type": "string", "value": str(value)}


class FirefoxTab:
    def __init__(self, browser: Firefox, context: str, user_context: str) -> None:
        self.browser, self.context, self.user_context = browser, context, user_context

    def goto(self, url: str) -> None:
        self.browser.command(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    def call(self, function: str, *args: Any) -> Any:
        result = self.browser.command(
            "script.callFunction",
            {
                "functionDeclaration": _wrapped(function),
                "arguments": [_bidi_value(a) for a in args],
                "awaitPromise": True,
                "target": {"context": self.context},
            },
        )
        if result["type"] == "exception":
            raise RuntimeError(result["exceptionDetails"].get("text", "script error"))
        return json.loads(result["result"]["value"])

    def close(self) -> None:
        self.browser.command("browsingContext.close", {"context": self.context})
        self.browser.command("browser.removeUserContext", {"userContext": self.user_context})


# --- WebKitGTK over W3C WebDriver -----------------------------------------------------------


class WebKit:
    """An Xvfb screen; each tab a WebKitWebDriver of its own (it holds one session at a time),
    so a fresh browser with its own storage."""

    def __init__(self) -> None:
        require(WEBKIT_DRIVER, "webkit2gtk-driver")
        require(XVFB, "xvfb")
        # Xvfb picks a free display itself and writes its number to the pipe.
        read_end, write_end = os.pipe()
        self.xvfb = subprocess.Popen(
            [
                XVFB,
                "-displayfd",
                str(write_end),
                "-screen",
                "0",
                "1280x1024x24",
                "-nolisten",
                "tcp",
            ],
            pass_fds=(write_end,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        if not number:
            stop(self.xvfb)
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"

    def new_tab(self) -> WebKitTab:
        return WebKitTab(self.display)

    def close(self) -> None:
        stop(self.xvfb)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class WebKitTab:
    def __init__(self, display: str) -> None:
        port = free_port()
        self.driver = subprocess.Popen(
            [WEBKIT_DRIVER, f"--port={port}"],
            env={**os.environ, "DISPLAY": display},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        try:
            self._wait_for_driver()
            capabilities = {"acceptInsecureCerts": True, "pageLoadStrategy": "normal"}
            session = self.request(
                "POST", "/session", {"capabilities": {"alwaysMatch": capabilities}}
            )
        except BaseException:
            stop(self.driver)
            raise
        self.session = f"/session/{session['sessionId']}"

    def _wait_for_driver(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                self.request("GET", "/status")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("WebKitWebDriver did not start")

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"WebKitWebDriver {method} {path}: {error.read()[:500]!r}") from None

    def goto(self, url: str) -> None:
        self.request("POST", self.session + "/url", {"url": url})

    def call(self, function: str, *args: Any) -> Any:
        script = (
            "const done = arguments[arguments.length - 1];"
            f"({_wrapped(function)})(...arguments[0]).then(done,"
            " (e) => done(JSON.stringify({__error: String(e)})));"
        )
        result = json.loads(
            self.request(
                "POST", self.session + "/execute/async", {"script": script, "args": [list(args)]}
            )
        )
        if isinstance(result, dict) and "__error" in result:
            raise RuntimeError(result["__error"])
        return result

    def close(self) -> None:
        try:
            self.request("DELETE", self.session)
        finally:
            stop(self.driver)


# --- Chromium through Playwright, behind the same interface ---------------------------------


class ChromiumTab:
    def __init__(self, browser: Any) -> None:
        from tests.browser import PHONE

        self.context = browser.new_context(viewport=PHONE, locale="nl-NL", ignore_https_errors=True)
        self.page = self.context.new_page()

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def call(self, function: str, *args: Any) -> Any:
        text = self.page.evaluate(f"(args) => ({_wrapped(function)})(...args)", list(args))
        return json.loads(text)

    def close(self) -> None:
        self.context.close()
