"""Shared fixtures: an isolated app on a temporary SQLite file, served for real on loopback,
and one headless Debian Chromium per test session."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from server.clock import Clock
from server.settings import Settings
from tests.support import ServerProcess, World, base_url_of, free_socket, server_process, serving

CHROMIUM = os.environ.get("HWC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


class LogCapture(logging.Handler):
    """Every log line of the run, formatted, for the forensic scans."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_capture() -> Iterator[LogCapture]:
    handler = LogCapture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hwc.db"


def make_settings(db_path: Path, base_url: str, **overrides: Any) -> Settings:
    return Settings(database=str(db_path), base_url=base_url, **overrides)


@pytest.fixture
def world(db_path: Path) -> Iterator[World]:
    """An app served on loopback (workers off), with helpers to populate it."""
    with live_world(db_path) as w:
        yield w


@pytest.fixture
def own_pwa_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, Path]]:
    """An app serving its own copy of pwa/, which the test may change (a new version)."""
    from server import pages

    pwa = tmp_path / "pwa"
    shutil.copytree(pages.PWA_DIR, pwa)
    monkeypatch.setattr(pages, "PWA_DIR", pwa)
    with live_world(tmp_path / "hwc.db") as world:
        yield world, pwa


@contextmanager
def live_world(
    db_path: Path,
    clock: Clock | None = None,
    tls: tuple[Path, Path] | None = None,
    **overrides: Any,
) -> Iterator[World]:
    """Serve a fresh app on a loopback port (https with `tls`: certificate and key files);
    background workers off unless asked for."""
    sock = free_socket()
    overrides.setdefault("run_workers", False)
    base_url = base_url_of(sock, "https" if tls else "http")
    app = create_app(make_settings(db_path, base_url, **overrides), clock)
    with serving(app, sock, tls=tls) as url:
        w = World(app, url)
        try:
            yield w
        finally:
            w.close()


@contextmanager
def process_world(
    db_path: Path, command: str = "hwc serve", **env: str
) -> Iterator[tuple[World, ServerProcess]]:
    """The server as a real process on db_path (started as `command` of SERVE_COMMANDS); an app
    of the test's own on the same file, never served, makes the directory and enrolment tokens
    (made first, so both share the signing key it stores)."""
    app = create_app(make_settings(db_path, "http://127.0.0.1", run_workers=False))
    try:
        with server_process(db_path, command, **env) as server:
            world = World(app, server.url)
            try:
                yield world, server
            finally:
                world.close()
    finally:
        app.state.db.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright. Missing Chromium fails; it never skips."""
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API leaves its event loop set on the main
    thread for the rest of the session, which breaks asyncio.run() in later tests."""
    items.sort(key=lambda item: "browser" in getattr(item, "fixturenames", ()))
