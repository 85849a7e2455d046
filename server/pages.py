"""What the server serves to browsers besides the API: the PWA shell and its app routes.

Only the files in PWA_FILES are served, JavaScript and CSS without their comment lines. The
text files among them are compressed once, when the app is made (Brotli for browsers that
accept it, gzip for the rest; again only for a file changed on disk since), and every file is
served from memory with an ETag per encoding. Only
these static files are compressed: API bodies never are (no BREACH-style leaks).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import brotli  # type: ignore[import-untyped]
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

PWA_DIR = Path(__file__).resolve().parent.parent / "pwa"

# Paths the app handles itself; each answers with the same shell ("/" is the start_url,
# "/nieuw" the officers' send screen, "/apparaat-toevoegen" the link for a person's next device).
APP_PATHS = (
    "/",
    "/aanmelden",
    "/nieuw",
    "/apparaat-toevoegen",
    "/signaal/{id}",
    "/toegankelijkheid",
    "/privacy",
)
SHELL_PAGE = "/index.html"

# Every file the app needs, and nothing else: a file in pwa/ that is not listed here (a
# developer script, notes) is never served. tests/test_pages.py checks this list against what
# the app, its service worker, its manifest and the admin pages load.
PWA_FILES = (
    "/index.html",
    "/linktoken.js",
    "/manifest.webmanifest",
    "/sw.js",
    "/style.css",
    "/app.js",
    "/api.js",
    "/envelope.js",
    "/envelope2.js",
    "/envelope3.js",
    "/keylog.js",
    "/keyring.js",
    "/keystore.js",
    "/push.js",
    "/sealing.js",
    "/signer.js",
    "/trust.js",
    "/updates.js",
    "/views/accessibility.js",
    "/views/admin.js",
    "/views/child.js",
    "/views/common.js",
    "/views/contact.js",
    "/views/device.js",
    "/views/dialog.js",
    "/views/enrol.js",
    "/views/guard.js",
    "/views/homescreen.js",
    "/views/lists.js",
    "/views/machines.js",
    "/views/notkept.js",
    "/views/officer.js",
    "/views/privacy.js",
    "/views/schoolsearch.js",
    "/views/sender.js",
    "/views/teacher.js",
    "/views/teacherlink.js",
    "/views/timeline.js",
    "/views/verdict.js",
    "/icons/icon-192.png",
    "/icons/icon-512.png",
    "/icons/maskable-512.png",
    "/icons/apple-touch-icon.png",
    "/admin.css",
    "/admin.js",  # the server-rendered admin pages
)

COMPRESSIBLE = (".html", ".js", ".css", ".webmanifest", ".json", ".svg")
MIN_COMPRESS_BYTES = 512  # below this, compression saves less than its header costs
PREFERENCE = ("br", "gzip")  # Brotli is about 15 % smaller than gzip -9 on these files


@dataclass(frozen=True)
class CompressedFile:
    media_type: str
    digest: str  # of the content; each encoding's ETag adds the encoding's name
    bodies: dict[str, bytes]  # "identity", and "br" / "gzip" where they are smaller

    def etag(self, encoding: str) -> str:
        return f'"{self.digest}"' if encoding == "identity" else f'"{self.digest}-{encoding}"'


# Comments are for the people who read pwa/, not for phones: whole comment lines and comment
# blocks that stand on lines of their own are left out of what is served (about a sixth of the
# first load). A comment after code on its line stays, so no string or regex is ever cut.
COMMENT_LINES = {
    ".js": re.compile(rb"^[ \t]*(?://[^\n]*|/\*(?:(?!\*/).)*\*/[ \t]*)\n", re.M | re.S),
    ".css": re.compile(rb"^[ \t]*/\*(?:(?!\*/).)*\*/[ \t]*\n", re.M | re.S),
}


def shipped(path: Path) -> bytes:
    """A file's bytes as served: its comment lines left out (COMMENT_LINES)."""
    raw = path.read_bytes()
    comments = COMMENT_LINES.get(path.suffix)
    return raw if comments is None else comments.sub(b"", raw)


@lru_cache(maxsize=256)
def _compress(path: Path, mtime_ns: int, size: int) -> CompressedFile:
    """One file, compressed at the highest levels (a one-off cost); cached per process by
    modification time and size, so every app a test makes reuses the work."""
    raw = shipped(path)
    bodies = {"identity": raw}
    if len(raw) >= MIN_COMPRESS_BYTES and path.suffix in COMPRESSIBLE:
        candidates = {
            "br": brotli.compress(raw, mode=brotli.MODE_TEXT, quality=11),
            "gzip": gzip.compress(raw, compresslevel=9, mtime=0),
        }
        bodies |= {name: body for name, body in candidates.items() if len(body) < len(raw)}
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return CompressedFile(media_type, hashlib.sha256(raw).hexdigest()[:24], bodies)


def _accepted_encodings(header: str) -> set[str]:
    """The codings of an Accept-Encoding header, less those refused with q=0."""
    accepted = set()
    for item in header.split(","):
        coding, *params = (part.strip().lower() for part in item.split(";"))
        if coding and not any(_is_zero_q(param) for param in params):
            accepted.add(coding)
    return accepted


def _is_zero_q(param: str) -> bool:
    name, _, value = param.partition("=")
    try:
        return name.strip() == "q" and float(value) == 0
    except ValueError:
        return False


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


class PwaFiles:
    """The app's listed files, served from memory: text files precompressed, ETags for
    revalidation. Any other path is 404, whatever lies in the directory."""

    def __init__(self, directory: Path, paths: tuple[str, ...] = PWA_FILES) -> None:
        self.sources = {path: directory / path.lstrip("/") for path in paths}
        for path in self.sources:
            self.compressed(path)  # all of them now, rather than on the first requests

    def compressed(self, path: str) -> CompressedFile | None:
        """A file of the app, compressed; again only when it changed on disk since."""
        source = self.sources.get(path)
        if source is None:
            return None
        try:
            stat = source.stat()
        except OSError:  # removed since: 404
            return None
        return _compress(source, stat.st_mtime_ns, stat.st_size)

    def response(self, file: CompressedFile, headers: Headers, head: bool = False) -> Response:
        accepted = _accepted_encodings(headers.get("accept-encoding", ""))
        encoding = next(
            (e for e in PREFERENCE if e in file.bodies and (e in accepted or "*" in accepted)),
            "identity",
        )
        body = file.bodies[encoding]
        etag = file.etag(encoding)
        sent = {"etag": etag, "vary": "Accept-Encoding"}
        if encoding != "identity":
            sent["content-encoding"] = encoding
        if _matches(headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=sent)
        sent["content-length"] = str(len(body))
        return Response(b"" if head else body, headers=sent, media_type=file.media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        file = self.compressed(scope["path"])
        if file is None:
            raise HTTPException(404)
        response = self.response(file, Headers(scope=scope), scope["method"] == "HEAD")
        await response(scope, receive, send)


async def app_shell(files: PwaFiles, request: Request) -> Response:
    file = files.compressed(SHELL_PAGE)
    assert file, "the app's index.html is missing"
    return files.response(file, request.headers, request.method == "HEAD")


def routes(files: PwaFiles) -> list[BaseRoute]:
    from server import admin

    # One endpoint object per path, so the access log can still name each route.
    return [
        *(Route(path, partial(app_shell, files), methods=["GET", "HEAD"]) for path in APP_PATHS),
        *admin.routes(),
    ]
