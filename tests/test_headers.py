"""Security headers and cookies on every response the server gives, and a service worker that
never keeps an API or admin response.

Every page, every file under pwa/, every API route, the health and schema endpoints and the
error responses carry a strict CSP, HSTS, no-referrer and nosniff; API and admin responses are
never stored; the device cookie is a __Host- cookie that scripts and other sites cannot use.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from server import admin, auth, regions
from server.api import API_ROUTES
from server.models import NewRegion
from server.pages import APP_PATHS, PWA_DIR, PWA_FILES
from tests.browser import enrol_phone, sw_list
from tests.support import Device, World

PAGES = (
    "/",
    "/aanmelden",
    "/nieuw",
    "/apparaat-toevoegen",
    "/signaal/x",
    "/toegankelijkheid",
    "/privacy",
    "/admin",
    "/admin/school",
    "/admin/regions/x",
    "/admin/orgs/x",
    "/admin/people/x",
    "/admin/people/x/export.json",
)
NAME, BORN = "Hendrika Zeppelinstraat", "2017-02-02"
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}


def csp_directives(value: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in value.split(";"):
        name, *sources = part.split()
        directives[name.lower()] = sources
    return directives


def assert_security_headers(response: httpx.Response, *, no_store: bool = False) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    headers = response.headers
    csp = csp_directives(headers.get("content-security-policy", ""))
    every_source = [s for sources in csp.values() for s in sources]
    assert not [
        s for s in every_source if "unsafe" in s or s in ("*", "data:", "http:", "https:", "blob:")
    ], where
    assert csp.get("default-src") == ["'self'"], where
    assert csp.get("script-src") == ["'self'"], where
    assert csp.get("object-src") == ["'none'"], where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("base-uri") in (["'none'"], ["'self'"]), where
    assert "'self'" in csp.get("form-action", []), where
    hsts = headers.get("strict-transport-security", "")
    max_age = re.search(r"max-age=(\d+)", hsts)
    assert max_age and int(max_age.group(1)) >= 31_536_000, where
    assert "includesubdomains" in hsts.lower(), where
    assert headers.get("referrer-policy") == "no-referrer", where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("x-frame-options") == "DENY", where
    assert "set-cookie" not in headers, where  # only enrolment and /api/me set the device cookie
    if no_store:
        assert headers.get("cache-control") == "no-store", where


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from tests.conftest import live_world

    with live_world(Path(tmp_path_factory.mktemp("headers")) / "hwc.db") as world:
        school = world.org()
        region = regions.create_region(world.db, NewRegion("Regio Utrecht"), world.now())
        yield {
            "world": world,
            "school": school,
            "region": region,
            "admin": world.member("admin", None),
            "contact": world.member("contact", school),
        }


def callers(site: dict[str, Any]) -> list[httpx.Client]:
    """Nobody, and devices that may see the admin pages."""
    world: World = site["world"]
    return [world.client(), site["admin"].http, site["contact"].http]


@pytest.mark.parametrize("path", PAGES)
def test_pages(path: str, site: dict[str, Any]) -> None:
    path = path.replace("/orgs/x", f"/orgs/{site['school']}")
    path = path.replace("/regions/x", f"/regions/{site['region']}")
    path = path.replace("/people/x", f"/people/{site['contact'].person_id}")
    statuses = set()
    for client in callers(site):
        response = client.get(path)
        statuses.add(response.status_code)
        assert response.status_code in (200, 401, 403), (path, response.status_code)
        json_export = response.status_code == 200 and path.endswith(".json")
        assert response.headers["content-type"].startswith(
            "application/json" if json_export else "text/html"
        )
        assert_security_headers(response, no_store=path.startswith("/admin"))
    assert 200 in statuses  # the page itself, not only its refusal


def test_every_page_path_is_listed() -> None:
    """So a new app or admin page cannot escape the page checks above."""
    paths = [*APP_PATHS, *(route.path for route in admin.routes())]
    listed = {re.sub(r"\{\w+\}", "x", p) for p in paths}
    assert listed <= set(PAGES)


@pytest.mark.parametrize("name", PWA_FILES)
def test_pwa_files(name: str, site: dict[str, Any]) -> None:
    client = site["world"].client()
    response = client.get(name)
    assert response.status_code == 200
    assert_security_headers(response)
    expected = CONTENT_TYPES.get(Path(name).suffix)
    if expected:  # nosniff: a script served with the wrong type would not run
        assert response.headers["content-type"].startswith(expected), response.headers
    # Revalidated by ETag rather than fetched again.
    etag = response.headers["etag"]
    again = client.get(name, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert_security_headers(again)


def _api_path(path: str) -> str:
    return path.replace("{id}", "x")


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_api_routes(route: Any, site: dict[str, Any]) -> None:
    for client in callers(site):
        response = client.request(route.method, _api_path(route.path))
        assert response.headers["content-type"].startswith("application/json")
        if route.path == "/api/me" and response.status_code == 200:
            # an enrolled device's start renews its cookie: the same credential, a new lifetime
            sent = dict(c.split("=", 1) for c in response.request.headers["cookie"].split("; "))
            assert_device_cookie(response, sent[auth.COOKIE])
        else:
            assert_security_headers(response, no_store=True)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/api/openapi.json"])
def test_operational_endpoints(path: str, site: dict[str, Any]) -> None:
    assert_security_headers(site["world"].client().get(path), no_store=True)


ERRORS = {
    "404 page": ("GET", "/bestaat-niet", {}, 404),
    "404 api": ("GET", "/api/bestaat-niet", {}, 404),
    "404 traversal": ("GET", "/..%2fserver%2fapp.py", {}, 404),
    "405 page": ("POST", "/", {}, 405),
    "405 api": ("DELETE", "/api/signals", {}, 405),
    "405 api get": ("GET", "/api/signals/x/open", {}, 405),
    "403 no X-HWC": ("POST", "/api/signals", {"X-HWC": ""}, 403),
    "413": ("POST", "/api/signals", {"Content-Length": str(10 * 1024 * 1024)}, 413),
    "401": ("GET", "/api/me", {}, 401),
}


@pytest.mark.parametrize("method,path,headers,status", ERRORS.values(), ids=ERRORS.keys())
def test_error_responses(
    method: str, path: str, headers: dict[str, str], status: int, site: dict[str, Any]
) -> None:
    client = site["world"].client()
    if "Content-Length" in headers:
        response = _declared_but_unsent(client, path, headers)
    else:
        response = client.request(method, path, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert_security_headers(response, no_store=path.startswith("/api/"))
    if status == 405:
        assert response.headers["allow"]
        assert method not in response.headers["allow"].split(", ")


def _declared_but_unsent(
    client: httpx.Client, path: str, headers: dict[str, str]
) -> httpx.Response:
    """A request that declares a huge body and sends none: refused from the headers alone."""
    url = client.base_url
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {url.host}:{url.port}",
        "X-HWC: 1",
        "Content-Type: application/json",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    with socket.create_connection((url.host, url.port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    return httpx.Response(
        int(status_line.split()[1]),
        content=body,
        headers=[tuple(h.split(": ", 1)) for h in header_lines],
        request=httpx.Request("POST", url.join(path)),
    )


def test_enrolment_cookie_flags(site: dict[str, Any]) -> None:
    world: World = site["world"]
    device: Device = world.member("teacher", site["school"])
    token = world.enrol_link_token(device.person_id)
    from server.envelope import b64u_encode, generate_device_key

    _, public_key = generate_device_key()
    response = world.client().post(
        "/api/enrol",
        json={
            "token": token,
            "public_key": b64u_encode(public_key),
            "sig_key": b64u_encode(generate_device_key()[1]),
            "label": "tablet",
        },
    )
    assert response.status_code == 201
    assert_device_cookie(response)


def assert_device_cookie(response: httpx.Response, credential: str | None = None) -> None:
    """The device cookie, host-only, secure, HttpOnly, strict, with a lifetime; nothing else."""
    assert_security_headers_except_cookie(response)
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 1
    name_value, *attributes = [part.strip() for part in cookies[0].split(";")]
    assert name_value.startswith(auth.COOKIE + "=") and auth.COOKIE.startswith("__Host-")
    if credential is not None:
        assert name_value == f"{auth.COOKIE}={credential}"
    flags = {
        a.split("=")[0].lower(): (a.split("=", 1)[1] if "=" in a else True) for a in attributes
    }
    assert flags.get("secure") is True
    assert flags.get("httponly") is True
    assert str(flags.get("samesite")).lower() == "strict"
    assert flags.get("path") == "/"
    assert "domain" not in flags  # __Host-: this exact host only
    assert int(str(flags.get("max-age", "0"))) == auth.COOKIE_MAX_AGE


def assert_security_headers_except_cookie(response: httpx.Response) -> None:
    stripped = httpx.Response(
        response.status_code,
        headers=[(k, v) for k, v in response.headers.multi_items() if k.lower() != "set-cookie"],
        request=response.request,
    )
    assert_security_headers(stripped, no_store=True)


# --- the service worker --------------------------------------------------------------------

SW = PWA_DIR / "sw.js"


def test_service_worker_never_caches_api_or_admin() -> None:
    """Read sw.js: the only things it ever writes to Cache Storage are the app's own files in
    its two lists (test_browser_offline.py checks Cache Storage itself, role by role)."""
    source = SW.read_text()
    for name in ("SHELL", "ON_DEMAND"):
        entries = sw_list(name)
        assert entries and all(e.startswith("/") for e in entries)
        private = ("/api/", "/admin", "/metrics", "/healthz", "/readyz", "/signaal/")
        assert not [e for e in entries if e.startswith(private)], entries
    never = re.search(r"const NEVER_CACHED = \[(.*?)\];", source, re.S)
    assert never and {"/api/", "/admin"} <= set(re.findall(r"\"([^\"]+)\"", never.group(1)))
    # Writes to Cache Storage (Cache.put/add/addAll; a Set's add is not a write, so `.add(`
    # counts only on something named like a cache): the install's addAll of SHELL and the ON_DEMAND
    # files used before, and one put of an ON_DEMAND path as the app first loads it.
    writes = re.findall(r"\.(put|addAll)\(\s*(\w+)?|[Cc]ache\w*\.(add)\(", source)
    assert [(w[0] or w[2], w[1]) for w in writes] == [("addAll", "paths"), ("put", "path")]
    assert "const paths = [...SHELL, ...await onDemandUsedBefore()];" in source
    used_before = source[source.index("async function onDemandUsedBefore") :]
    assert "if (ON_DEMAND.includes(path)) used.add(path);" in used_before[:600]
    # The fetch handler gives up on private paths before anything else, and caches on first
    # use only a path in ON_DEMAND.
    handler = source[source.index('addEventListener("fetch"') :]
    assert handler.index("NEVER_CACHED") < handler.index("respondWith")
    assert handler.count("cacheOnFirstUse(") == 2  # the one call, and the function itself
    assert re.search(
        r"else if \(ON_DEMAND\.includes\(url\.pathname\)\) \{\s*"
        r"event\.respondWith\(cacheOnFirstUse\(event, url\.pathname\)\)",
        handler,
    )


def test_browser_caches_hold_no_api_or_admin_response(browser: Any, world: World) -> None:
    school = world.org()
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis Cache"))
    phone = enrol_phone(browser, world, "contact", school, name="IB Cache")
    try:
        phone.wait_for_service_worker()
        sent = world.send(sender, school, NAME, BORN)
        assert sent.status_code == 201
        signal_id = sent.json()["id"]
        phone.goto(f"/signaal/{signal_id}")
        expect(phone.page.get_by_text(NAME)).to_be_visible()
        for path in ("/admin/school", "/admin", "/", "/toegankelijkheid"):
            phone.goto(path)
        # Fetches from a controlled page go through the worker's fetch handler.
        phone.page.evaluate("""async () => {
            for (const path of ['/api/me', '/api/signals', '/api/push/key', '/admin/school',
                                '/admin.js', '/healthz']) await fetch(path);
        }""")
        urls = phone.page.evaluate("""async () => {
            const urls = [];
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) urls.push(request.url);
            }
            return urls;
        }""")
        assert urls, "the service worker cached no shell at all"
        paths = [httpx.URL(u).path for u in urls]
        assert not [p for p in paths if p.startswith(("/api/", "/admin", "/signaal/"))], paths
        assert NAME not in phone.storage()
    finally:
        phone.close()
