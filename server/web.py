"""HTTP concerns shared by every route: JSON errors, strict decoding, and the middleware.

The middleware is plain ASGI (no BaseHTTPMiddleware) because it sits on every request.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.db import describe
from server.errors import (
    Conflict,
    DomainError,
    Invalid,
    Limited,
    NotFound,
    Refused,
    Unauthenticated,
)
from server.models import TextRefused

access_log = logging.getLogger("hwc.access")
CLIENT_GONE = 499  # the access log's status for a client that left before its answer (as nginx)
error_log = logging.getLogger("hwc.error")

T = TypeVar("T")

# Dutch text for each status, used where a route gives no more specific message.
MESSAGES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Het verzoek is ongeldig."),
    401: ("not_enrolled", "Dit apparaat is niet (meer) aangemeld. Vraag een nieuwe aanmeldlink."),
    403: ("forbidden", "Dit mag u met dit apparaat niet doen."),
    404: ("not_found", "Niet gevonden."),
    405: ("method_not_allowed", "Deze methode is hier niet toegestaan."),
    409: ("conflict", "Dit is intussen veranderd. Ververs het scherm."),
    413: ("too_large", "Het verzoek is te groot."),
    415: ("unsupported_media_type", "Stuur de gegevens als JSON."),
    422: ("invalid", "De gegevens kloppen niet."),
    429: ("rate_limited", "Te veel pogingen. Wacht even en probeer het opnieuw."),
    500: ("server_error", "Er ging iets mis op de server. Probeer het opnieuw of bel."),
    503: ("busy", "De server is even te druk. Probeer het over een paar seconden opnieuw."),
}

# A domain error's kind gives its status; the table below may give another for one code.
KIND_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    Refused: 403,
    Invalid: 422,
    Unauthenticated: 401,
    Limited: 429,
}

# The one table from domain error code to status and Dutch message; `{name}` is filled from
# the error's `say`. A code not listed here gets its kind's status and generic message.
ERRORS: dict[str, tuple[int, str]] = {
    # signals
    "not_found": (404, "Dit signaal is er niet (meer)."),
    "removed": (404, "Dit signaal is verwijderd. Dat hoort zo: het blijft niet bewaard."),
    "opened_elsewhere": (
        404,
        "Dit signaal is al geopend op uw andere apparaat en daarna verwijderd. "
        "Dat hoort zo: het blijft niet bewaard.",
    ),
    "unknown_recipient": (404, "Deze school of dit bureau bestaat niet."),
    "unknown_recipient.school": (404, "Deze school bestaat niet."),
    "no_recipients": (409, "Deze school heeft nog geen aangemeld apparaat. Bel de school{phone}."),
    "no_recipients.office": (
        409,
        "Dit leerplichtbureau heeft nog geen aangemeld apparaat. Bel het bureau{phone}.",
    ),
    "school_closed": (
        409,
        "Deze schoolvestiging is gesloten volgens het register van DUO. "
        "Bel de school{phone} en vraag waar het kind nu naar school gaat.",
    ),
    "devices_changed": (409, "De lijst met apparaten is intussen veranderd. Probeer het opnieuw."),
    "id_reused": (409, "Dit signaal-id is al gebruikt."),
    "already_handled": (409, "Dit signaal is intussen al door een collega afgehandeld."),
    "already_handled.moved_on": (
        409,
        "Een collega heeft dit signaal al doorgestuurd of afgesloten.",
    ),
    "bad_envelope": (422, "Een versleuteld bericht is ongeldig."),
    "unsigned_envelope": (
        422,
        "Het signaal is niet verstuurd: het is niet ondertekend. Laad de app opnieuw, of vraag "
        "uw beheerder het koppelprogramma bij te werken.",
    ),
    "bad_signal_id": (422, "Dit signaal-id is ongeldig."),
    "unknown_teacher": (422, "Kies een leerkracht van uw school met een aangemeld apparaat."),
    # enrolment, devices, keys
    "token_invalid": (
        400,
        "Deze aanmeldlink werkt niet (meer). Hij is al gebruikt, verlopen of niet compleet. "
        "Vraag de beheerder of uw intern begeleider om een nieuwe link.",
    ),
    "key_in_use": (
        409,
        "Dit apparaat kan zo niet worden aangemeld: zijn sleutel hoort al bij een ander apparaat. "
        "Open de aanmeldlink opnieuw; de app maakt dan een nieuwe sleutel.",
    ),
    "bad_public_key": (422, "De sleutel van dit apparaat is ongeldig."),
    "bad_push_endpoint": (
        422,
        "Deze meldingendienst wordt niet geaccepteerd. Zet meldingen opnieuw aan.",
    ),
    "bad_quiet_hours": (422, "Begin en einde van de nachtrust moeten verschillen."),
    "not_a_sender": (422, "Alleen Veilig Thuis en leerplicht kunnen een API-sleutel krijgen."),
    # the directory
    "school_fields": (422, "Een school heeft een BRIN-code en een regio nodig."),
    "code_taken": (409, "De code {code} is al in gebruik."),
    "unknown_org": (404, "Deze organisatie bestaat niet."),
    "unknown_school": (404, "Deze school bestaat niet."),
    "unknown_region": (404, "Deze regio bestaat niet."),
    "region_taken": (409, "Er is al een regio met de naam {name}."),
    "admin_scope": (
        422,
        "Een beheerder hoort bij één organisatie, bij één regio of bij de hele dienst, "
        "niet bij twee tegelijk.",
    ),
    "csv_header": (422, "De eerste regel moet zijn: name,place,code,region,phone"),
    "csv_header.register": (422, "In het DUO-bestand ontbreken de kolommen: {columns}."),
    "csv_row": (422, "Regel {line}: {problem}"),
    "bad_range": (422, "De einddatum ligt vóór de begindatum."),
    "bad_range.too_long": (422, "Een periode mag hoogstens een jaar zijn."),
    "unknown_code": (422, "Onbekende schoolcode: {codes}."),
    "role_org": (422, "Deze rol past niet bij deze organisatie."),
    # the web layer's own
    "malformed_json": (400, "Het verzoek is geen geldige JSON."),
    "metrics_token": (401, "Metrics vragen het operator-token."),
    "erase_self": (
        409,
        "U kunt uw eigen gegevens hier niet verwijderen. Vraag een andere beheerder.",
    ),
    # the key log (docs/keylog.md)
    "two_pending": (
        409,
        "Er wachtten twee nieuwe apparaten tegelijk op goedkeuring. Om veiligheidsredenen zijn "
        "ze allebei geweigerd. Vraag een nieuwe link en meld één apparaat tegelijk aan.",
    ),
    "not_pending": (404, "Dit apparaat wacht niet (meer) op goedkeuring."),
    "not_your_device": (404, "Dit apparaat hoort niet bij u."),
    "no_signing_key": (
        409,
        "Dit apparaat kan geen nieuw apparaat goedkeuren: het is aangemeld voordat apparaten "
        "elkaar konden goedkeuren. Vraag de beheerder om uw account opnieuw in te stellen.",
    ),
    "no_signing_key.rotate": (
        409,
        "Dit apparaat kan geen nieuwe sleutel maken: het is aangemeld voordat apparaten een "
        "eigen ondertekensleutel hadden. Vraag de beheerder om uw account opnieuw in te stellen.",
    ),
    "not_own_device": (403, "Alleen een apparaat zelf kan zijn sleutel vervangen."),
    "key_reused": (
        409,
        "Deze sleutel is al eens gebruikt. Tik opnieuw op Nieuwe sleutel maken; de app maakt "
        "dan een andere.",
    ),
    "bad_rotation": (422, "De nieuwe sleutel is niet goed ondertekend door dit apparaat."),
    "bad_approval": (422, "De goedkeuring klopt niet. Probeer het opnieuw op uw telefoon."),
    "no_log": (409, "Beheerders zonder organisatie hebben geen apparatenlijst."),
    "no_reset": (409, "Deze persoon kan niet opnieuw worden ingesteld."),
    # sending systems' keys (`hwc register-key`, docs/keylog.md)
    "api_key_only": (
        409,
        "Alleen een registratiesysteem met een API-sleutel meldt zo een sleutel aan.",
    ),
    "unknown_machine": (404, "Dit systeem is niet (meer) goedgekeurd voor uw organisatie."),
    "machine_not_pending": (404, "Dit systeem wacht niet (meer) op goedkeuring."),
    "machine_key_ended": (
        409,
        "De sleutel van dit systeem is geweigerd of ingetrokken. Maak een nieuwe sleutel (een "
        "nieuw HWC_STATE-bestand) en meld die aan.",
    ),
    "machine_key_in_use": (409, "Deze sleutel is al in gebruik. Maak een nieuwe sleutel."),
    "two_pending_machines": (
        409,
        "Er wachtte al een ander systeem op goedkeuring voor uw organisatie. Om "
        "veiligheidsredenen zijn beide aanmeldingen vervallen. Meld dit systeem opnieuw aan en "
        "vraag de beheerder na of iemand anders uw API-sleutel gebruikt.",
    ),
    # why a device that still holds its credential no longer works
    "not_enrolled.reset": (
        401,
        "Dit apparaat werkt niet meer: uw account is opnieuw ingesteld, zodat een nieuw apparaat "
        "kon worden aangemeld. Was u dat niet? Bel dan meteen de beheerder.",
    ),
    "not_enrolled": (401, MESSAGES[401][1]),
    "not_enrolled.revoked": (
        401,
        "Dit apparaat is afgemeld en kan geen signalen meer ontvangen. Was u dat niet? Bel dan "
        "meteen de beheerder.",
    ),
    "not_enrolled.declined": (
        401,
        "Dit apparaat is niet goedgekeurd en kan geen signalen ontvangen.",
    ),
    "not_enrolled.person_revoked": (
        401,
        "Uw toegang is ingetrokken. Vraag de beheerder als dat niet klopt.",
    ),
}

JSON_ENCODER = msgspec.json.Encoder()
FIELD_IN_DETAIL = re.compile(r"at `\$\.(\w+)`$")  # msgspec: "... - at `$.code`"


class ApiError(Exception):
    """An error a client should see: status, a code for programs, a Dutch message for people
    (by default the code's in ERRORS, else the status's in MESSAGES)."""

    def __init__(
        self, status: int, code: str | None = None, message: str | None = None, **extra: Any
    ) -> None:
        default_code, default_message = MESSAGES.get(status, MESSAGES[400])
        self.status = status
        self.code = code or default_code
        self.message = message or ERRORS.get(self.code, (status, default_message))[1]
        self.extra = extra
        self.headers: dict[str, str] = {}
        super().__init__(self.code)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(JSON_ENCODER.encode(data), status, headers, media_type="application/json")


def error_body(status: int, code: str | None = None, message: str | None = None) -> bytes:
    default_code, default_message = MESSAGES.get(status, MESSAGES[500])
    return JSON_ENCODER.encode(
        {"error": code or default_code, "message": message or default_message}
    )


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    body = {"error": exc.code, "message": exc.message, **exc.extra}
    return json_response(body, exc.status, exc.headers)


def status_of(error: DomainError) -> int:
    if error.key in ERRORS:
        return ERRORS[error.key][0]
    return next(s for kind, s in KIND_STATUS.items() if isinstance(error, kind))


def message_of(error: DomainError) -> str:
    """The Dutch words for a domain error (its own words where a validator gave them)."""
    if error.text is not None:
        return error.text
    if error.key not in ERRORS:
        return MESSAGES[status_of(error)][1]
    say = {k: message_of(v) if isinstance(v, DomainError) else v for k, v in error.say.items()}
    return ERRORS[error.key][1].format(**say)


def api_error(error: DomainError) -> ApiError:
    """A domain error as the client sees it."""
    answer = ApiError(status_of(error), error.code, message_of(error), **error.body)
    if isinstance(error, Limited):
        answer.headers["Retry-After"] = str(error.retry_after)
    return answer


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return await api_error_handler(request, api_error(exc))


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    status = exc.status_code
    allowed = _methods_of_path(request) if status in (404, 405) else set()
    if allowed:
        # The catch-all PWA mount answers a route's path called with another method: 404 for
        # GET, 405 "Allow: GET, HEAD" (its own methods) for the rest; and Starlette's own 405
        # names only the first of two routes on one path (GET and POST /api/signals).
        status, headers["Allow"] = 405, ", ".join(sorted(allowed))
    return Response(error_body(status), status, headers, media_type="application/json")


def _methods_of_path(request: Request) -> set[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] is Match.PARTIAL:
            methods |= route.methods or set()
    return methods


async def read_json(request: Request, model: type[T]) -> T:
    """Decode a JSON body strictly: unknown fields, wrong types and bad UTF-8 are refused."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415)
    body = await request.body()
    try:
        return msgspec.json.decode(body, type=model, strict=True)
    except msgspec.ValidationError as exc:
        # msgspec names the field and the rule, never the value; a top-level field is also
        # given on its own, so a form can mark it.
        detail = str(exc)
        found = FIELD_IN_DETAIL.search(detail)
        field = {"field": found[1]} if found else {}
        if isinstance(exc.__cause__, TextRefused):  # raised by models.Form, in Dutch
            raise ApiError(422, "hidden_character", str(exc.__cause__), **field) from None
        raise ApiError(422, detail=detail, **field) from None
    except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec raises the latter for bad UTF-8
        raise ApiError(400, "malformed_json") from None


def route_templates(routes: list[Any]) -> dict[Any, str]:
    """endpoint -> path template, so logs name the route and never the path's ids."""
    return {getattr(r, "endpoint", getattr(r, "app", None)): r.path or "/*" for r in routes}


class ErrorGuard:
    """Outermost layer: access log line per request, and a JSON 500 with an error id.

    Logs method, route template, status and duration; never a body, query string, cookie or
    exception message (a message can carry input).
    """

    def __init__(
        self,
        app: ASGIApp,
        templates: Callable[[], dict[Any, str]],
        observe: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self.app = app
        self.templates = templates
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except ClientDisconnect:
            status = status or CLIENT_GONE  # nobody to answer, and nothing went wrong here
        except Exception as exc:
            error_id = secrets.token_hex(6)
            frames = "".join(traceback.format_tb(exc.__traceback__))
            error_log.error("error %s: %s\n%s", error_id, describe(exc), frames)
            if status == 0:
                status = 500
                # Sent past ResponseGuard (this layer is outside it): add the headers here.
                await send_json(
                    send,
                    500,
                    {"error": "server_error", "message": MESSAGES[500][1], "error_id": error_id},
                    [*SECURITY_HEADERS, (b"cache-control", b"no-store")],
                )
        route = self.templates().get(scope.get("endpoint"), "-")
        elapsed = time.perf_counter() - started
        access_log.info("%s %s %d %.1fms", scope["method"], route, status, elapsed * 1000)
        if self.observe is not None:
            self.observe(scope["method"], route, elapsed)


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = JSON_ENCODER.encode(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (
        b"permissions-policy",
        b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    ),
]
PRIVATE_PREFIXES = ("/api/", "/admin", "/metrics", "/readyz", "/healthz")


class ResponseGuard:
    """Every response on its way out. It starts only once the transactions it may depend on
    are on disk: its request's own, and any other that it may have read (see db.GroupCommit);
    a failed commit raises here, and ErrorGuard answers 500 instead. It carries the security
    headers, and API and admin responses are never stored."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        db = scope["app"].state.db
        no_store = scope["path"].startswith(PRIVATE_PREFIXES)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                await db.durable()
                headers = [h for h in message.get("headers", []) if h[0] != b"cache-control"]
                headers += SECURITY_HEADERS
                headers.append((b"cache-control", b"no-store" if no_store else b"no-cache"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


class RequestGuard:
    """Refuses before the app reads anything: oversized bodies (413) and state changes that
    lack the X-HWC header or come from another site (403) — a cross-site form cannot set it."""

    SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, large_bodies: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # path template -> limit, for the few routes with larger bodies (bulk imports, envelopes)
        self.large_bodies = [
            (compile_path(path)[0], limit) for path, limit in (large_bodies or {}).items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["method"] not in self.SAFE_METHODS:
            if headers.get(b"x-hwc") != b"1" or headers.get(b"sec-fetch-site") == b"cross-site":
                await send_json(send, 403, {"error": "missing_header", "message": MESSAGES[403][1]})
                return
        limit = next(
            (limit for pattern, limit in self.large_bodies if pattern.match(scope["path"])),
            self.max_body_bytes,
        )
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await send_json(
                send,
                413,
                {"error": "too_large", "message": MESSAGES[413][1]},
                [(b"connection", b"close")],
            )
            return
        await self.app(scope, self._limited(receive, limit), send)

    def _limited(self, receive: Receive, limit: int) -> Receive:
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # A chunked body with no Content-Length: stop reading at the limit.
                raise HTTPException(413)
            return message

        return limited_receive
