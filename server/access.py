"""Who is calling, from the request: the device cookie or an organisation's API key, and the
`@requires(role...)` guard every API route declares. The web side of `server/auth.py`, which
holds the credentials themselves and knows nothing of HTTP."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server.approvals import revoked_reason
from server.auth import (
    COOKIE,
    COOKIE_MAX_AGE,
    ROLES,
    Actor,
    api_key_actor,
    device_actor,
    revoked_device,
)
from server.db import Store
from server.errors import Conflict, Refused, Unauthenticated


def state_of(request: Request) -> Any:
    return request.app.state


def now_of(request: Request) -> float:
    return float(request.app.state.clock.now())


def client_host(request: Request) -> str:
    return request.client.host if request.client else "-"


def set_device_cookie(response: Response, credential: str) -> None:
    response.set_cookie(
        COOKIE,
        credential,
        max_age=COOKIE_MAX_AGE,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


def authenticate(request: Request) -> Actor:
    app_state = request.app.state
    now = app_state.clock.now()
    actor = None
    if "authorization" in request.headers:
        actor = api_key_actor(app_state.db, request.headers["authorization"], now)
    elif COOKIE in request.cookies:
        actor = device_actor(app_state.db, request.cookies[COOKIE], now)
        if actor is None:
            _refuse_revoked(app_state.db, request.cookies[COOKIE])
    if actor is None:
        raise Unauthenticated()
    return actor


def _refuse_revoked(db: Store, credential: str) -> None:
    """A device that was revoked (reset, blocked, declined) is told why, in Dutch."""
    device_id = revoked_device(db, credential)
    if device_id is not None:
        raise Unauthenticated("not_enrolled", variant=revoked_reason(db, device_id))


def person_device(actor: Actor) -> str:
    """The calling person's own device: an API key, or the admin pages without one, get 403."""
    if actor.device_id is None or actor.person_id is None:
        raise Refused()
    return actor.device_id


def log_org(actor: Actor) -> str:
    """The caller's organisation, whose key log it acts in: people without one (instance and
    region admins) have none."""
    if actor.org_id is None:
        raise Conflict("no_log")
    return actor.org_id


Endpoint = Callable[[Request, Actor], Awaitable[Response]]


def requires(*roles: str) -> Callable[[Endpoint], Callable[[Request], Awaitable[Response]]]:
    """Declare who may call a route; the resolved Actor is passed to the endpoint."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, unknown

    def decorate(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            actor = authenticate(request)
            if actor.role not in roles:
                raise Refused()
            return await endpoint(request, actor)

        guarded.roles = roles  # type: ignore[attr-defined]
        return guarded

    return decorate
