"""The app's first-load weight: what a phone downloads on its first visit, fetched from the
running server as a browser would ask for it.

A first visit is the enrolment link: the page, what it links and statically imports, the
manifest and every icon it names, sw.js and what sw.js precaches at install (its SHELL, fetched
again: an upper bound, the worker only revalidates); then, once enrolled, the person's role's
screens: the modules the role's entry in app.js's ROLE_VIEWS imports, with what they import
statically. The figure is the heaviest role's first visit. Later screens (the accessibility
statement, the officers' send form: dynamic imports elsewhere) load only when opened and are
listed apart. Without a ROLE_VIEWS table every dynamic import counts, as if one phone opened
every screen. tests/test_browser_offline.py checks these sets against what Chromium fetches.
"""

from __future__ import annotations

import gzip
import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import brotli  # type: ignore[import-untyped]

from bench.procs import get_full

ACCEPT = {"Accept-Encoding": "gzip, deflate, br", "Accept": "*/*"}
GZIP_LEVEL = 6  # what nginx and most CDNs use by default

STATIC_IMPORT = re.compile(
    r"""(?:\bimport\s*(?:[\w*{}\s,]+\s*from\s*)?"""
    r"""|\bexport\s*[\w*{}\s,]+\s*from\s*)["']([^"']+)["']"""
)
DYNAMIC_IMPORT = re.compile(r"""\bimport\s*\(\s*["']([^"']+)["']""")
REGISTER = re.compile(r"""serviceWorker\s*\.\s*register\s*\(\s*["']([^"']+)["']""")
SHELL_LIST = re.compile(r"""const\s+SHELL\s*=\s*\[(.*?)\]""", re.S)
QUOTED = re.compile(r"""["']([^"']+)["']""")
ROLE_TABLE = re.compile(r"""\bconst\s+ROLE_VIEWS\s*=\s*\{""")
# Inside the table: brackets (for the depth), a key at depth 0, a dynamic import's target.
ROLE_TOKENS = re.compile(r"""import(?=\s*\(\s*["']([^"']+)["'])|[{}()\[\]]|(\w+)\s*:""")
EVERY_SCREEN = "every screen"


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.refs.append(a["src"] or "")
        elif (
            tag == "link"
            and a.get("href")
            and (a.get("rel") or "").lower()
            in ("stylesheet", "manifest", "icon", "apple-touch-icon", "modulepreload", "preload")
        ):
            self.refs.append(a["href"] or "")
        elif tag == "img" and a.get("src"):
            self.refs.append(a["src"] or "")


def _path(base: str, ref: str) -> str | None:
    url = urlsplit(urljoin("http://app" + base, ref))
    return url.path if url.netloc == "app" else None


def _decoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        return bytes(brotli.decompress(body))
    return body


def role_imports(source: str) -> dict[str, list[str]] | None:
    """role -> the modules its entry in `const ROLE_VIEWS = {...}` imports; None without one."""
    table = ROLE_TABLE.search(source)
    if not table:
        return None
    roles: dict[str, list[str]] = {}
    role, depth = "", 0
    for token in ROLE_TOKENS.finditer(source, table.end()):
        text = token.group(0)
        if token.group(1) and role:
            roles[role].append(token.group(1))
        elif text in ("{", "(", "["):
            depth += 1
        elif text in ("}", ")", "]"):
            if depth == 0:
                break  # the table's own closing brace
            depth -= 1
        elif token.group(2) and depth == 0:
            role = token.group(2)
            roles[role] = []
    return roles


class _Crawl:
    """Fetches files once each and follows their references."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.fetched: dict[str, dict[str, Any]] = {}
        self.dynamic: dict[str, list[str]] = {}  # module -> the modules it imports on demand

    def fetch(self, path: str) -> bytes:
        if path in self.fetched:
            return self.fetched[path]["body"]
        status, headers, body = get_full(self.port, path, ACCEPT)
        encoding = headers.get("content-encoding", "identity")
        raw = _decoded(body, encoding)
        self.fetched[path] = {
            "status": status,
            "wire": len(body),
            "raw": len(raw),
            "gzip": len(gzip.compress(raw, GZIP_LEVEL)),
            "encoding": encoding,
            "etag": "etag" in headers,
            "cache": headers.get("cache-control", ""),
            "body": raw,
        }
        return raw

    def text(self, path: str) -> str:
        body = self.fetch(path)
        return body.decode("utf-8", "replace") if self.fetched[path]["status"] == 200 else ""

    def closure(self, start: list[str], seen: set[str], dynamic_too: bool = False) -> list[str]:
        """`start` and what it references, less `seen`, in the order a browser asks for them:
        HTML links and scripts, static imports, the worker it registers, manifest icons (and
        with `dynamic_too`, dynamic imports as well)."""
        order: list[str] = []
        queue = [p for p in start if p not in seen]
        while queue:
            path = queue.pop(0)
            if path in seen or path in order:
                continue
            order.append(path)
            refs = self.refs(path, self.text(path))
            if dynamic_too:
                refs += self.dynamic.get(path, [])
            queue += [ref for ref in refs if ref not in seen and ref not in order]
        return order

    def refs(self, path: str, text: str) -> list[str]:
        found: list[str] = []
        if path == "/" or path.endswith(".html"):
            parser = _Refs()
            parser.feed(text)
            found = parser.refs
        elif path.endswith((".js", ".mjs")):
            found = [m.group(1) for m in STATIC_IMPORT.finditer(text)]
            found += [m.group(1) for m in REGISTER.finditer(text)]
            self.dynamic[path] = [
                t for m in DYNAMIC_IMPORT.finditer(text) if (t := _path(path, m.group(1)))
            ]
        elif path.endswith((".webmanifest", ".json")) and text:
            try:
                found = [icon["src"] for icon in json.loads(text).get("icons", [])]
            except (ValueError, TypeError, KeyError, AttributeError):
                found = []
        return [target for ref in found if (target := _path(path, ref))]

    def sums(self, paths: list[str]) -> dict[str, int]:
        ok = [p for p in paths if self.fetched[p]["status"] == 200]
        return {key: sum(self.fetched[p][key] for p in ok) for key in ("wire", "raw", "gzip")}


def measure(port: int) -> dict[str, Any]:
    crawl = _Crawl(port)
    # What the page itself loads: the HTML, its links and scripts, their static imports, the
    # manifest's icons, and the service worker app.js registers.
    page = crawl.closure(["/"], set())
    if "/sw.js" not in page:
        page += crawl.closure(["/sw.js"], set(page))
    # What the service worker's install fetches again (it revalidates, so this is the most).
    match = SHELL_LIST.search(crawl.text("/sw.js"))
    precache = QUOTED.findall(match.group(1)) if match else []
    core = page + crawl.closure(precache, set(page))
    # Each role's screens, loaded once the phone is enrolled.
    roles: dict[str, list[str]] = {}
    for module in list(crawl.dynamic):
        table = role_imports(crawl.text(module))
        for role, targets in (table or {}).items():
            wanted = [t for ref in targets if (t := _path(module, ref))]
            roles[role] = crawl.closure(wanted, set(core))
    on_demand = [t for targets in crawl.dynamic.values() for t in targets]
    if not roles:
        roles[EVERY_SCREEN] = crawl.closure(on_demand, set(core), dynamic_too=True)
    in_roles = {p for paths in roles.values() for p in paths}
    later = crawl.closure(on_demand, set(core) | in_roles, dynamic_too=True)
    heaviest = max(roles, key=lambda role: crawl.sums(roles[role])["wire"]) if roles else ""
    first = core + roles.get(heaviest, [])
    visit = page + precache + roles.get(heaviest, [])  # every request, refetches included
    unique, everything = crawl.sums(first), crawl.sums(list(crawl.fetched))
    refetched = crawl.sums(visit)
    ok = [p for p in crawl.fetched if crawl.fetched[p]["status"] == 200]
    return {
        "heaviest_role": heaviest,
        "requests_page": len(page) + len(roles.get(heaviest, [])),
        "requests_precache": len(precache),
        "requests_total": len(visit),
        "unique_files": len(first),
        "missing": [p for p in crawl.fetched if crawl.fetched[p]["status"] != 200],
        "server_compresses": any(crawl.fetched[p]["encoding"] != "identity" for p in ok),
        "wire_bytes_unique": unique["wire"],
        "raw_bytes_unique": unique["raw"],
        "gzip_bytes_unique": unique["gzip"],
        # A first visit: the page's requests, the install fetching every SHELL entry again,
        # then the role's screens.
        "wire_bytes_first_visit": refetched["wire"],
        "raw_bytes_first_visit": refetched["raw"],
        "gzip_bytes_first_visit": refetched["gzip"],
        "roles": {
            role: {
                "files": len(core) + len(paths),
                **{f"{k}_bytes": v for k, v in crawl.sums(core + paths).items()},
            }
            for role, paths in roles.items()
        },
        "core": core,
        "role_files": roles,
        "later": later,
        "app_files": len(crawl.fetched),
        "app_wire_bytes": everything["wire"],
        "app_gzip_bytes": everything["gzip"],
        "etags": sum(1 for p in ok if crawl.fetched[p]["etag"]),
        "cache_control": sorted({crawl.fetched[p]["cache"] for p in ok}),
        "files": {p: {k: v for k, v in f.items() if k != "body"} for p, f in crawl.fetched.items()},
    }
