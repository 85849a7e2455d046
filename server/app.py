"""The application factory: settings in, a Starlette app out."""

from __future__ import annotations

import contextlib
import gc
import secrets
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

from server import db as database
from server import logkey, logs, orglog, pages, policy, push
from server.api import API_ROUTES, healthz, large_bodies, readyz
from server.auth import RateLimiter
from server.clock import Clock
from server.errors import DomainError
from server.metrics import Metrics, metrics_endpoint
from server.openapi import openapi
from server.settings import Settings
from server.timers import Timers
from server.web import (
    ApiError,
    ErrorGuard,
    RequestGuard,
    ResponseGuard,
    api_error_handler,
    domain_error_handler,
    http_error_handler,
    route_templates,
)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    clock = clock or Clock()
    pwa_files = pages.PwaFiles(pages.PWA_DIR)
    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        Route("/api/openapi.json", openapi),
        *(r.route() for r in API_ROUTES),
        *pages.routes(pwa_files),
        # Only the app's own files are compressed: API bodies never are (no BREACH-style leaks).
        Mount("/", app=pwa_files, name="pwa"),
    ]
    templates = route_templates(routes)
    metrics = Metrics()
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(ErrorGuard, templates=lambda: templates, observe=metrics.observe),
            Middleware(ResponseGuard),
            Middleware(
                RequestGuard, max_body_bytes=settings.max_body_bytes, large_bodies=large_bodies()
            ),
        ],
        exception_handlers={
            ApiError: api_error_handler,
            DomainError: domain_error_handler,
            HTTPException: http_error_handler,
        },
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    metrics.app_state = app.state
    app.state.clock = clock
    app.state.timing = policy.timing(settings)
    app.state.limits = {name: RateLimiter(*rate) for name, rate in policy.RATE_LIMITS.items()}
    _open_database(app)
    return app


def _open_database(app: Starlette) -> None:
    """Opened in the factory so tests and the CLI see a ready app; closed by the lifespan."""
    settings: Settings = app.state.settings
    try:
        db = database.connect(settings.database)
        database.check_intact(db, settings.database)
    except sqlite3.DatabaseError as error:
        if not database.is_damage(error):
            raise
        raise database.DatabaseDamaged(  # damaged beyond opening: the same message
            f"database {settings.database} cannot be opened: {database.describe(error)}. "
            f"{database.RESTORE_STEPS}"
        ) from None
    app.state.db = db
    secret = settings.secret_key or database.meta_get(db, "secret_key")
    if not secret:
        secret = secrets.token_urlsafe(32)
        database.meta_set(db, "secret_key", secret)
    app.state.secret_key = secret
    vapid_key = push.vapid_private_key(db, settings.vapid_private_key)
    app.state.vapid_key = vapid_key
    app.state.vapid_public_key = push.application_server_key(vapid_key)
    app.state.log_key = logkey.log_private_key(db)
    orglog.ensure_genesis(db, app.state.clock.now())


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    logs.configure(app.state.settings.log_level)
    workers: list[Any] = []
    if app.state.settings.run_workers:
        from server.pushworker import PushWorker

        worker = PushWorker(
            app.state.db,
            app.state.settings,
            app.state.clock,
            app.state.vapid_key,
            topic_key=app.state.secret_key.encode(),
        )
        app.state.push_worker = worker
        app.state.db.on_push_queued(worker.wake)
        app.state.timers = Timers(app.state.db, app.state.clock, app.state.timing)
        workers += [worker, app.state.timers]
    app.state.db.start_group_commit()
    try:
        async with contextlib.AsyncExitStack() as stack:
            for worker in workers:
                await stack.enter_async_context(worker)
            # What exists now lives as long as the app: keep it out of the collector's full
            # passes, which would otherwise stall every request in flight for tens of ms.
            gc.collect()
            gc.freeze()
            yield
    finally:
        gc.unfreeze()
        app.state.db.stop_group_commit()
    app.state.db.close()
