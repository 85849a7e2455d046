"""The fake push service accepts what a real one accepts and refuses what a real one refuses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
from py_vapid import Vapid
from py_vapid.jwt import sign
from pywebpush import WebPusher, WebPushException, webpush, webpush_async

from server.fakepush import FakePushService, b64url_encode, create_fake_push_app, public_raw
from tests.fakepush_server import running_fake_push

MAILTO = "mailto:test@example.org"


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[str, FakePushService]]:
    with running_fake_push() as running:
        yield running


@pytest.fixture
def push(live: tuple[str, FakePushService]) -> Iterator[tuple[str, FakePushService]]:
    base, service = live
    service.clock = time.time
    service.reset()
    yield base, service


@pytest.fixture(scope="module")
def vapid() -> Vapid:
    key = Vapid()
    key.generate_keys()
    return key


def subscribe(base: str, **options: str) -> dict[str, Any]:
    response = httpx.post(f"{base}/subscriptions", json=options)
    assert response.status_code == 201
    return response.json()


def sub_id(subscription: dict[str, Any]) -> str:
    return subscription["endpoint"].rsplit("/", 1)[1]


def vapid_header(key: Vapid, claims: dict[str, Any], signer: Vapid | None = None) -> str:
    """An Authorization header with any claims, optionally signed by another key than `k`."""
    token = sign(claims, (signer or key).private_key)
    return f"vapid t={token}, k={b64url_encode(public_raw(key.private_key))}"


def send(subscription: dict[str, Any], vapid: Vapid, data: str = "hello", **kwargs: Any) -> int:
    """Push with pywebpush; returns the status whether accepted or refused."""
    kwargs.setdefault("ttl", 60)
    kwargs.setdefault("timeout", 5)
    if "headers" not in kwargs or "Authorization" not in kwargs["headers"]:
        kwargs.setdefault("vapid_private_key", vapid)
        kwargs.setdefault("vapid_claims", {"sub": MAILTO})
    try:
        return webpush(subscription, data, **kwargs).status_code
    except WebPushException as refused:
        assert refused.response is not None
        return refused.response.status_code


def test_accepts_and_decrypts_a_correct_push(push, vapid) -> None:
    base, service = push
    subscription = subscribe(base)
    assert subscription["endpoint"].startswith(f"{base}/push/")
    payload = '{"web_push": 8030, "notification": {"title": "Nieuw signaal"}}'
    status = send(subscription, vapid, payload, headers={"Urgency": "high", "Topic": "abc"})
    assert status == 201
    [message] = service.messages
    assert message["sub_id"] == sub_id(subscription)
    assert message["payload"] == payload
    assert message["headers"]["TTL"] == "60"
    assert message["headers"]["Urgency"] == "high"
    assert message["headers"]["Topic"] == "abc"
    assert message["headers"]["Content-Encoding"] == "aes128gcm"
    assert int(message["headers"]["content-length"]) == message["body_length"]
    assert httpx.get(f"{base}/messages").json()[0]["payload"] == payload
    assert service.distinct_jwts == 1


def test_refuses_a_wrong_aud_and_an_exp_too_far_ahead(push, vapid) -> None:
    base, service = push
    subscription = subscribe(base)
    wrong_aud = {"sub": MAILTO, "aud": "https://push.example.org"}
    assert send(subscription, vapid, vapid_claims=wrong_aud) == 403
    far = {"sub": MAILTO, "exp": int(time.time()) + 25 * 3600}
    assert send(subscription, vapid, vapid_claims=far) == 403
    assert service.messages == []


@pytest.mark.parametrize(
    ("claims", "other_signer"),
    [
        pytest.param({"sub": MAILTO, "exp": -60}, False, id="expired"),
        pytest.param({"exp": 3600}, False, id="no-sub"),
        pytest.param({"sub": "test@example.org", "exp": 3600}, False, id="sub-not-a-uri"),
        pytest.param({"sub": MAILTO, "exp": 3600}, True, id="signed-by-another-key"),
    ],
)
def test_refuses_a_bad_jwt(push, vapid, claims, other_signer) -> None:
    base, service = push
    subscription = subscribe(base)
    claims = {**claims, "aud": base, "exp": int(time.time()) + claims["exp"]}
    other = Vapid()
    other.generate_keys()
    header = vapid_header(vapid, claims, other if other_signer else None)
    assert send(subscription, vapid, headers={"Authorization": header}) == 403
    assert service.messages == []


def test_refuses_a_push_without_vapid(push, vapid) -> None:
    base, _ = push
    assert send(subscribe(base), vapid, vapid_claims=None) == 401


def test_checks_exp_on_every_request_even_for_a_cached_jwt(push, vapid) -> None:
    base, service = push
    subscription = subscribe(base)
    header = vapid_header(vapid, {"sub": MAILTO, "aud": base, "exp": int(time.time()) + 60})
    assert send(subscription, vapid, headers={"Authorization": header}) == 201
    service.clock = lambda: time.time() + 120
    assert send(subscription, vapid, headers={"Authorization": header}) == 403
    assert service.distinct_jwts == 1


def test_refuses_a_body_encrypted_to_another_subscription(push, vapid) -> None:
    base, service = push
    mine, other = subscribe(base), subscribe(base)
    crossed = {"endpoint": mine["endpoint"], "keys": other["keys"]}
    assert send(crossed, vapid) == 400
    assert service.messages == []


def test_refuses_a_push_without_ttl_and_an_unknown_subscription(push, vapid) -> None:
    base, _ = push
    subscription = subscribe(base)
    body = WebPusher(subscription).encode(b"hello")["body"]
    claims = {"sub": MAILTO, "aud": base, "exp": int(time.time()) + 600}
    headers = {"Authorization": vapid_header(vapid, claims), "Content-Encoding": "aes128gcm"}
    assert httpx.post(subscription["endpoint"], content=body, headers=headers).status_code == 400
    unknown = {**subscription, "endpoint": f"{base}/push/nobody"}
    assert send(unknown, vapid) == 404


def test_refuses_a_subscription_restricted_to_another_vapid_key(push, vapid) -> None:
    base, _ = push
    other = Vapid()
    other.generate_keys()
    restricted = subscribe(base, applicationServerKey=b64url_encode(public_raw(other.private_key)))
    assert send(restricted, vapid) == 403
    assert send(restricted, other) == 201


def test_plays_scripted_answers_in_order(push, vapid) -> None:
    base, service = push
    subscription = subscribe(base)
    script = {"statuses": [429, 500, 410], "retry_after": 1}
    answer = httpx.put(f"{base}/subscriptions/{sub_id(subscription)}/answers", json=script)
    assert answer.status_code == 204
    with pytest.raises(WebPushException) as limited:
        webpush(subscription, "x", vapid, {"sub": MAILTO}, ttl=60, timeout=5)
    assert limited.value.response.status_code == 429
    assert limited.value.retry_after == "1"
    assert [send(subscription, vapid) for _ in range(3)] == [500, 410, 410]
    assert service.messages == []
    attempts = httpx.get(f"{base}/attempts").json()
    assert [a["status"] for a in attempts] == [429, 500, 410, 410]


def test_delivers_after_scripted_answers_run_out(push, vapid) -> None:
    base, service = push
    subscription = subscribe(base)
    service.set_answers(sub_id(subscription), [503])
    assert [send(subscription, vapid) for _ in range(2)] == [503, 201]
    assert len(service.messages) == 1
    assert [a["status"] for a in service.attempts] == [503, 201]


def test_honours_the_delay(push, vapid) -> None:
    base, _ = push
    subscription = subscribe(base)
    assert httpx.post(f"{base}/delay", json={"seconds": 0.2}).status_code == 204
    started = time.monotonic()
    assert send(subscription, vapid) == 201
    assert time.monotonic() - started >= 0.2


def test_webpush_async_with_a_shared_aiohttp_session(push, vapid) -> None:
    base, service = push
    subscriptions = [subscribe(base) for _ in range(5)]
    # One header for all pushes, as the app server does: the service verifies it once.
    claims = {"sub": MAILTO, "aud": base, "exp": int(time.time()) + 3600}
    headers = {"Authorization": vapid_header(vapid, claims), "Urgency": "high"}

    async def fan_out() -> list[int]:
        async with aiohttp.ClientSession() as session:
            pushes = [
                webpush_async(
                    s, f"m{i}", headers=headers, ttl=60, timeout=5, aiohttp_session=session
                )
                for i, s in enumerate(subscriptions * 4)
            ]
            return [response.status for response in await asyncio.gather(*pushes)]

    assert asyncio.run(fan_out()) == [201] * 20
    assert sorted(m["payload"] for m in service.messages) == sorted(f"m{i}" for i in range(20))
    assert service.distinct_jwts == 1


def test_origin_defaults_to_the_request_base_url() -> None:
    async def subscribe_in_process() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=create_fake_push_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return (await client.post("/subscriptions")).json()

    subscription = asyncio.run(subscribe_in_process())
    assert subscription["endpoint"].startswith("http://testserver/push/")
    assert len(subscription["keys"]["auth"]) == 22  # 16 bytes, base64url without padding
