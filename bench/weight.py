"""The app's first-load weight: the shell, everything it references, the manifest, sw.js and
what sw.js precaches, fetched from the running server as a browser would ask for them."""

from __future__ import annotations

import gzip
import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from bench.procs import get_full

ACCEPT = {"Accept-Encoding": "gzip, deflate, br", "Accept": "*/*"}
GZIP_LEVEL = 6  # what nginx and most CDNs use by default

IMPORT = re.compile(r"""(?:\bimport\s*(?:[\w*{}\s,]+\s*from\s*)?|\bexport\s*[\w*{}\s,]+\s*from\s*"""
                    r"""|\bimport\s*\(\s*)["']([^"']+)["']""")
REGISTER = re.compile(r"""serviceWorker\s*\.\s*register\s*\(\s*["']([^"']+)["']""")
SHELL_LIST = re.compile(r"""const\s+SHELL\s*=\s*\[(.*?)\]""", re.S)
QUOTED = re.compile(r"""["']([^"']+)["']""")


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.refs.append(a["src"] or "")
        elif tag == "link" and a.get("href") and (a.get("rel") or "").lower() in (
                "stylesheet", "manifest", "icon", "apple-touch-icon", "modulepreload",
                "preload"):
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
        try:
            import brotli  # type: ignore[import-not-found]
        except ImportError:
            return body  # raw size unknown without brotli; the wire size is still right
        return bytes(brotli.decompress(body))
    return body


def measure(port: int) -> dict[str, Any]:
    fetched: dict[str, dict[str, Any]] = {}
    page_order: list[str] = []

    def fetch(path: str) -> bytes:
        if path in fetched:
            return fetched[path]["body"]
        status, headers, body = get_full(port, path, ACCEPT)
        encoding = headers.get("content-encoding", "identity")
        raw = _decoded(body, encoding)
        fetched[path] = {"status": status, "wire": len(body), "raw": len(raw),
                         "gzip": len(gzip.compress(raw, GZIP_LEVEL)), "encoding": encoding,
                         "etag": "etag" in headers, "cache": headers.get("cache-control", ""),
                         "body": raw}
        return raw

    # What the page itself loads: the HTML, its links and scripts, their static imports,
    # the manifest's icons, and the service worker app.js registers.
    queue = ["/"]
    while queue:
        path = queue.pop(0)
        if path in fetched:
            continue
        page_order.append(path)
        body = fetch(path)
        text = body.decode("utf-8", "replace") if fetched[path]["status"] == 200 else ""
        refs: list[str] = []
        if path == "/" or path.endswith(".html"):
            parser = _Refs()
            parser.feed(text)
            refs = parser.refs
        elif path.endswith((".js", ".mjs")):
            refs = [m.group(1) for m in IMPORT.finditer(text)]
            refs += [m.group(1) for m in REGISTER.finditer(text)]
        elif path.endswith((".webmanifest", ".json")) and text:
            try:
                manifest = json.loads(text)
                refs = [icon["src"] for icon in manifest.get("icons", [])]
            except (ValueError, TypeError, KeyError):
                refs = []
        for ref in refs:
            target = _path(path, ref)
            if target and target not in fetched and target not in queue:
                queue.append(target)
    if "/sw.js" not in fetched:
        page_order.append("/sw.js")
        fetch("/sw.js")
    # What the service worker's install fetches again (cache: "reload" skips the HTTP cache).
    sw = fetched["/sw.js"]["body"].decode("utf-8", "replace")
    match = SHELL_LIST.search(sw)
    precache = [q for q in QUOTED.findall(match.group(1))] if match else []
    for path in precache:
        fetch(path)
    unique = list(fetched)
    missing = [p for p in unique if fetched[p]["status"] != 200]
    ok = [p for p in unique if fetched[p]["status"] == 200]
    compressed_by_server = any(fetched[p]["encoding"] != "identity" for p in ok)
    return {
        "requests_page": len(page_order),
        "requests_precache": len(precache),
        "requests_total": len(page_order) + len(precache),
        "unique_files": len(unique),
        "missing": missing,
        "server_compresses": compressed_by_server,
        "wire_bytes_unique": sum(fetched[p]["wire"] for p in ok),
        "raw_bytes_unique": sum(fetched[p]["raw"] for p in ok),
        "gzip_bytes_unique": sum(fetched[p]["gzip"] for p in ok),
        # A first visit: the page's requests, then the install fetches every SHELL entry again.
        "wire_bytes_first_visit": sum(fetched[p]["wire"] for p in page_order + precache
                                      if fetched[p]["status"] == 200),
        "raw_bytes_first_visit": sum(fetched[p]["raw"] for p in page_order + precache
                                     if fetched[p]["status"] == 200),
        "gzip_bytes_first_visit": sum(fetched[p]["gzip"] for p in page_order + precache
                                      if fetched[p]["status"] == 200),
        "etags": sum(1 for p in ok if fetched[p]["etag"]),
        "cache_control": sorted({fetched[p]["cache"] for p in ok}),
        "files": {p: {k: v for k, v in fetched[p].items() if k != "body"} for p in unique},
    }
