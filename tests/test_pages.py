"""The app's files as served: compressed once (Brotli or gzip, whichever the browser takes),
an ETag per encoding, HEAD without a body, a changed file served anew, API bodies never
compressed."""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from server import admin, pages
from server.pages import PWA_DIR, PWA_FILES, SHELL_PAGE, PwaFiles
from tests.support import World, free_socket, serving

SCRIPT = "export const line = 'Handle with Care';\n" * 40


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    """PwaFiles alone on a directory of its own, served on loopback."""
    (tmp_path / "app.js").write_text(SCRIPT)
    (tmp_path / "tiny.css").write_text("p { margin: 0; }\n")
    (tmp_path / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(600))
    (tmp_path / "make_icons.py").write_text("print('a developer script')\n")
    listed = ("/app.js", "/tiny.css", "/icon.png")
    app = Starlette(routes=[Mount("/", app=PwaFiles(tmp_path, listed))])
    with serving(app, free_socket()) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client, tmp_path


def raw_get(client: httpx.Client, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the body exactly as sent (not decoded)."""
    with client.stream("GET", path, headers=headers) as response:
        return response.status_code, dict(response.headers), b"".join(response.iter_raw())


@pytest.mark.parametrize(
    "accept,encoding",
    [
        ("gzip, deflate, br, zstd", "br"),  # what Chromium sends
        ("gzip, deflate", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("identity", None),
        ("", None),
        ("*", "br"),
    ],
)
def test_each_browser_gets_the_encoding_it_accepts(
    files: tuple[httpx.Client, Path], accept: str, encoding: str | None
) -> None:
    client, _ = files
    status, headers, body = raw_get(client, "/app.js", **{"Accept-Encoding": accept})
    assert status == 200
    assert headers.get("content-encoding") == encoding
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-type"].startswith("text/javascript")
    assert int(headers["content-length"]) == len(body)
    decoded = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[encoding](body)
    assert decoded == SCRIPT.encode()
    if encoding:
        assert len(body) < len(SCRIPT) // 4


COMMENTED = """// A module: this line is for its readers.
/**
 * And so is this block.
 */
const url = "https://example.org/a"; // a comment after code stays
  // an indented comment line goes
const pattern = /\\/\\/not-a-comment/; /* a block after code stays */
/* a block on one line goes */
const text = `
// in a template literal: cut too, so no template in pwa/ may hold such a line (below)
`;
"""


def test_comment_lines_are_not_served_and_code_is_untouched(tmp_path: Path) -> None:
    script = tmp_path / "commented.js"
    script.write_text(COMMENTED)
    served = pages.shipped(script).decode()
    assert served == (
        'const url = "https://example.org/a"; // a comment after code stays\n'
        "const pattern = /\\/\\/not-a-comment/; /* a block after code stays */\n"
        "const text = `\n"
        "`;\n"
    )
    style = tmp_path / "style.css"
    style.write_text("/* the palette */\np { color: red; } /* kept */\n")
    assert pages.shipped(style) == b"p { color: red; } /* kept */\n"
    icon = tmp_path / "icon.svg"
    icon.write_text("<!-- kept --><svg/>\n// kept too\n")
    assert pages.shipped(icon) == icon.read_bytes()


def test_no_template_literal_in_the_app_holds_a_line_that_looks_like_a_comment() -> None:
    """What makes leaving out comment lines safe for pwa/: no multi-line template literal (or
    string) has a line that starts like a comment, which the rule would cut."""
    for path in PWA_DIR.rglob("*.js"):
        for literal in re.findall(r"`[^`]*`", path.read_text()):
            lines = literal.split("\n")[1:]
            assert not [x for x in lines if x.lstrip().startswith(("//", "/*"))], path


def test_each_encoding_has_its_own_etag_and_revalidates(files: tuple[httpx.Client, Path]) -> None:
    client, _ = files
    tags = {}
    for accept in ("br", "gzip", "identity"):
        status, headers, _ = raw_get(client, "/app.js", **{"Accept-Encoding": accept})
        tags[accept] = headers["etag"]
        again = client.get(
            "/app.js",
            headers={"Accept-Encoding": accept, "If-None-Match": f'W/"x", {headers["etag"]}'},
        )
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == headers["etag"]
    assert len(set(tags.values())) == 3
    # A tag of another encoding is another representation: sent in full.
    status, _, _ = raw_get(
        client, "/app.js", **{"Accept-Encoding": "br", "If-None-Match": tags["gzip"]}
    )
    assert status == 200


def test_head_sends_the_headers_only(files: tuple[httpx.Client, Path]) -> None:
    client, _ = files
    get = client.get("/app.js", headers={"Accept-Encoding": "br"})
    head = client.head("/app.js", headers={"Accept-Encoding": "br"})
    assert head.status_code == 200 and head.content == b""
    for name in ("content-length", "content-encoding", "etag", "content-type"):
        assert head.headers[name] == get.headers[name]


def test_small_files_and_images_are_sent_as_they_are(files: tuple[httpx.Client, Path]) -> None:
    client, _ = files
    for path in ("/tiny.css", "/icon.png"):
        status, headers, _ = raw_get(client, path, **{"Accept-Encoding": "br, gzip"})
        assert status == 200 and "content-encoding" not in headers, path
        assert headers["etag"]
    assert client.get("/missing.js").status_code == 404


def test_only_the_listed_files_are_served(files: tuple[httpx.Client, Path]) -> None:
    client, _ = files
    for path in ("/make_icons.py", "/", "/app.js/", "/APP.JS", "/app.js%00"):
        assert client.get(path).status_code == 404, path
    assert client.post("/app.js").status_code == 405


def test_the_app_serves_exactly_the_files_it_loads(world: World) -> None:
    """PWA_FILES is what the app loads (the page, its imports, the worker and its lists, the
    manifest's icons, every screen) plus the admin pages' own files; nothing more."""
    from urllib.parse import urlsplit

    from bench import weight

    crawled = weight.measure(int(urlsplit(world.url).port or 0))
    assert crawled["missing"] == []
    loaded = set(crawled["files"]) - {"/"} | {SHELL_PAGE}
    admin_page = (Path(admin.__file__).parent / "templates" / "base.html").read_text()
    loaded |= set(re.findall(r'(?:href|src)="(/[^"]+\.\w+)"', admin_page))
    assert loaded == set(PWA_FILES)
    client = world.client()
    for path in PWA_FILES:
        assert client.get(path).status_code == 200, path
    for path in ("/icons/make_icons.py", "/icons/", "/views/", "/index.html.br"):
        assert client.get(path).status_code == 404, path


def test_a_changed_file_is_served_anew(files: tuple[httpx.Client, Path]) -> None:
    client, directory = files
    first = client.get("/app.js", headers={"Accept-Encoding": "br"})
    changed = SCRIPT.replace("Care", "Zorg")
    (directory / "app.js").write_text(changed)
    stat = (directory / "app.js").stat()
    os.utime(directory / "app.js", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = client.get("/app.js", headers={"Accept-Encoding": "br"})
    assert second.text == changed and second.headers["etag"] != first.headers["etag"]


def test_the_served_app_is_compressed_and_the_api_never(world: World) -> None:
    client = world.client()
    accept = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    for path in (
        "/",
        "/aanmelden",
        "/signaal/abc",
        "/app.js",
        "/style.css",
        "/manifest.webmanifest",
    ):
        response = client.get(path, headers=accept)
        assert response.status_code == 200, path
        assert response.headers["content-encoding"] == "br", path
    assert client.get("/", headers=accept).text == (PWA_DIR / "index.html").read_text()
    for path in ("/api/push/key", "/api/openapi.json", "/healthz"):
        response = client.get(path, headers=accept)
        assert "content-encoding" not in response.headers, path
