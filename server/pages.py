"""What the server serves to browsers besides the API: the PWA shell and its app routes."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.staticfiles import StaticFiles

PWA_DIR = Path(__file__).resolve().parent.parent / "pwa"

# Paths the app handles itself; each answers with the same shell ("/" is the start_url,
# "/nieuw" the officers' send screen).
APP_PATHS = ("/", "/aanmelden", "/nieuw", "/signaal/{id}", "/toegankelijkheid")


class PwaFiles(StaticFiles):
    """The app's static files; no directory listings, ETags for revalidation."""


async def app_shell(request: Request) -> Response:
    return FileResponse(PWA_DIR / "index.html", media_type="text/html; charset=utf-8")


def _compressed_shell() -> GZipMiddleware:
    # One wrapper per path, so the access log can still name each route.
    return GZipMiddleware(request_response(app_shell), minimum_size=512)


def routes() -> list[BaseRoute]:
    from server import admin

    return [*(Route(path, _compressed_shell(), methods=["GET", "HEAD"]) for path in APP_PATHS),
            *admin.routes()]
