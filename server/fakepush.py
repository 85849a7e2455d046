"""A fake Web Push service (RFC 8030) that verifies like a real one, for tests and benchmarks.

It holds the subscriptions' private keys (a browser would), so it can check the VAPID header
(RFC 8292) and decrypt the aes128gcm body (RFC 8291) of every push it receives. Endpoints and
payloads are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import http_ece  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_JWT_LIFETIME = 24 * 3600  # RFC 8292 section 2: exp at most 24 h after the request
MAX_BODY = 4096  # RFC 8030 section 7.2: the size real services accept; more gets 413
URGENCIES = frozenset({"very-low", "low", "normal", "high"})  # RFC 8030 section 5.3
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # RFC 8030 section 5.4
GONE = frozenset({404, 410})
RECORDED_HEADERS = ("TTL", "Urgency", "Topic", "Content-Encoding", "content-length")


class Rejected(Exception):
    """A push the service refuses; the status is what a real service would answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_raw(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def verify_es256_jwt(token: str, public_key_b64: str) -> dict[str, Any]:
    """Check a JWT's ES256 signature against `k` and return its claims (raises Rejected)."""
    try:
        header_b64, claims_b64, sig_b64 = token.split(".")
        if json.loads(b64url_decode(header_b64)).get("alg") != "ES256":
            raise Rejected(403, "JWT alg must be ES256")
        sig = b64url_decode(sig_b64)
        if len(sig) != 64:
            raise Rejected(403, "bad JWT signature")
        key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b64url_decode(public_key_b64)
        )
        der = encode_dss_signature(int.from_bytes(sig[:32]), int.from_bytes(sig[32:]))
        key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(b64url_decode(claims_b64))
    except InvalidSignature:
        raise Rejected(403, "bad JWT signature") from None
    except (ValueError, TypeError, AttributeError, binascii.Error):
        raise Rejected(403, "malformed JWT or key") from None
    if not isinstance(claims, dict):
        raise Rejected(403, "JWT claims must be an object")
    return claims


def parse_vapid_authorization(value: str) -> tuple[str, str]:
    """`vapid t=<jwt>, k=<key>` -> (t, k); anything else is unauthenticated (401)."""
    scheme, _, params = value.partition(" ")
    if scheme.lower() != "vapid":
        raise Rejected(401, "VAPID authorization required")
    parts = dict(p.strip().partition("=")[::2] for p in params.split(","))
    if not parts.get("t") or not parts.get("k"):
        raise Rejected(401, "VAPID authorization needs t and k")
    return parts["t"], parts["k"]


@dataclass
class FakeSubscription:
    id: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    application_server_key: str | None  # RFC 8292 section 4.2 restriction, if any
    answers: deque[int] = field(default_factory=deque)
    retry_after: int | None = None
    gone_status: int | None = None  # once 404/410 was played, keep answering it


class FakePushService:
    """State and checks of the fake push service; usable in-process as well as over HTTP."""

    def __init__(self, origin: str | None = None, clock: Callable[[], float] = time.time):
        self.origin = origin.rstrip("/") if origin else None
        self.clock = clock  # replaceable so tests can move time past a cached JWT's exp
        self.subscriptions: dict[str, FakeSubscription] = {}
        self.messages: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []
        self.delay = 0.0
        # Signature checks are the costly part: do each distinct (token, key) once.
        self._jwt_cache: dict[tuple[str, str], dict[str, Any] | Rejected] = {}
        self._tokens_seen: set[str] = set()

    @property
    def distinct_jwts(self) -> int:
        return len(self._tokens_seen)

    def subscribe(
        self, origin: str | None = None, application_server_key: str | None = None
    ) -> dict[str, Any]:
        """Make a subscription and return it as a browser's PushSubscription JSON."""
        base = (origin or self.origin or "http://127.0.0.1").rstrip("/")
        sub = FakeSubscription(
            id=secrets.token_urlsafe(16),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=secrets.token_bytes(16),
            application_server_key=application_server_key,
        )
        self.subscriptions[sub.id] = sub
        return {
            "endpoint": f"{base}/push/{sub.id}",
            "expirationTime": None,
            "keys": {
                "p256dh": b64url_encode(public_raw(sub.private_key)),
                "auth": b64url_encode(sub.auth_secret),
            },
        }

    def set_answers(self, sub_id: str, statuses: list[int], retry_after: int | None = None) -> None:
        sub = self.subscriptions[sub_id]
        sub.answers = deque(statuses)
        sub.retry_after = retry_after

    def reset(self) -> None:
        """Forget records, JWTs and the delay; subscriptions stay."""
        self.messages.clear()
        self.attempts.clear()
        self._jwt_cache.clear()
        self._tokens_seen.clear()
        self.delay = 0.0

    def check_vapid(self, authorization: str | None, sub: FakeSubscription, origin: str) -> None:
        if not authorization:
            raise Rejected(401, "VAPID authorization required")
        token, key = parse_vapid_authorization(authorization)
        cached = self._jwt_cache.get((token, key))
        if cached is None:
            try:
                cached = verify_es256_jwt(token, key)
            except Rejected as rejected:
                cached = rejected
            self._jwt_cache[(token, key)] = cached
            self._tokens_seen.add(token)
        if isinstance(cached, Rejected):
            raise cached
        if sub.application_server_key and b64url_decode(key) != b64url_decode(
            sub.application_server_key
        ):
            raise Rejected(403, "VAPID key does not match the subscription")
        # Claims are checked on every request: exp moves relative to now.
        now = self.clock()
        if cached.get("aud") != origin:
            raise Rejected(403, "JWT aud is not this push service")
        exp = cached.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise Rejected(403, "JWT exp must be a number")
        if not now < exp <= now + MAX_JWT_LIFETIME:
            raise Rejected(403, "JWT exp is past or more than 24 h ahead")
        sub_claim = cached.get("sub")
        if not isinstance(sub_claim, str) or not sub_claim.startswith(("mailto:", "https:")):
            raise Rejected(403, "JWT sub must be a mailto: or https: URI")

    def open_push(self, sub: FakeSubscription, headers: dict[str, str | None], body: bytes) -> str:
        """Check the RFC 8030 headers and decrypt the body; returns the plaintext."""
        ttl = headers["TTL"]
        if ttl is None or not (ttl.isascii() and ttl.isdigit()):
            raise Rejected(400, "TTL header (integer >= 0) required")
        urgency, topic = headers["Urgency"], headers["Topic"]
        if urgency is not None and urgency not in URGENCIES:
            raise Rejected(400, "bad Urgency")
        if topic is not None and not TOPIC.match(topic):
            raise Rejected(400, "bad Topic")
        if (headers["Content-Encoding"] or "").lower() != "aes128gcm":
            raise Rejected(400, "Content-Encoding must be aes128gcm")
        if len(body) > MAX_BODY:
            raise Rejected(413, "payload too large")
        try:
            plain: bytes = http_ece.decrypt(
                body,
                private_key=sub.private_key,
                auth_secret=sub.auth_secret,
                version="aes128gcm",
            )
        except Exception:  # http_ece raises several types for bad input; all mean 400
            raise Rejected(400, "cannot decrypt the payload") from None
        return plain.decode("utf-8", errors="replace")

    async def receive_push(self, request: Request) -> Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        sub_id = request.path_params["sub_id"]
        response = await self._answer_push(request, sub_id)
        self.attempts.append(
            {"sub_id": sub_id, "status": response.status_code, "time": time.time()}
        )
        return response

    async def _answer_push(self, request: Request, sub_id: str) -> Response:
        sub = self.subscriptions.get(sub_id)
        if sub is None:
            return _error(404, "no such subscription")
        if sub.gone_status:
            return _error(sub.gone_status, "subscription expired")
        body = await request.body()
        headers = {name: request.headers.get(name) for name in RECORDED_HEADERS}
        try:
            self.check_vapid(
                request.headers.get("authorization"), sub, self.origin or _origin_of(request)
            )
            payload = self.open_push(sub, headers, body)
        except Rejected as rejected:
            return _error(rejected.status, rejected.reason)
        status = sub.answers.popleft() if sub.answers else 201
        if status in GONE:
            sub.gone_status = status
        if status != 201:
            return _error(status, "scripted answer", _scripted_headers(sub, status))
        self.messages.append(
            {
                "sub_id": sub_id,
                "headers": headers,
                "body_length": len(body),
                "payload": payload,
                "received_at": time.time(),
            }
        )
        return Response(status_code=201, headers={"Location": f"/message/{secrets.token_hex(8)}"})


def _scripted_headers(sub: FakeSubscription, status: int) -> dict[str, str]:
    if 300 <= status < 400:  # back to this same URL: a sender that follows it posts again
        return {"Location": f"/push/{sub.id}"}
    if status in (429, 503) and sub.retry_after is not None:
        return {"Retry-After": str(sub.retry_after)}
    return {}


def _origin_of(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def create_fake_push_app(origin: str | None = None) -> Starlette:
    service = FakePushService(origin)

    async def subscriptions(request: Request) -> JSONResponse:
        options = json.loads(await request.body() or b"{}")
        sub = service.subscribe(
            service.origin or _origin_of(request), options.get("applicationServerKey")
        )
        return JSONResponse(sub, status_code=201)

    async def answers(request: Request) -> Response:
        sub_id = request.path_params["sub_id"]
        if sub_id not in service.subscriptions:
            return _error(404, "no such subscription")
        script = await request.json()
        statuses = script.get("statuses", [])
        if not all(isinstance(s, int) and 100 <= s <= 599 for s in statuses):
            return _error(400, "statuses must be HTTP status codes")
        service.set_answers(sub_id, statuses, script.get("retry_after"))
        return Response(status_code=204)

    async def delay(request: Request) -> Response:
        service.delay = float((await request.json())["seconds"])
        return Response(status_code=204)

    async def messages(request: Request) -> JSONResponse:
        return JSONResponse(service.messages)

    async def attempts(request: Request) -> JSONResponse:
        return JSONResponse(service.attempts)

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "messages": len(service.messages),
                "attempts": len(service.attempts),
                "distinct_jwts": service.distinct_jwts,
            }
        )

    async def reset(request: Request) -> Response:
        service.reset()
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/push/{sub_id}", service.receive_push, methods=["POST"]),
            Route("/subscriptions", subscriptions, methods=["POST"]),
            Route("/subscriptions/{sub_id}/answers", answers, methods=["PUT"]),
            Route("/delay", delay, methods=["POST"]),
            Route("/messages", messages, methods=["GET"]),
            Route("/attempts", attempts, methods=["GET"]),
            Route("/stats", stats, methods=["GET"]),
            Route("/reset", reset, methods=["POST"]),
        ]
    )
    app.state.service = service
    return app


def run_fake_push(host: str = "127.0.0.1", port: int = 8123, origin: str | None = None) -> None:
    """Serve the fake push service (the `hwc fake-push` command).

    Without `origin`, each request's own base URL is the expected VAPID `aud`.
    """
    import uvicorn

    # No access log: the path of a push is the subscription's capability URL.
    uvicorn.run(
        create_fake_push_app(origin),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
    )
