"""Rate limits: the limiter's own rules, its memory and work at a million keys, the addresses it
counts, and X-Forwarded-For trusted only from a configured proxy (the real `hwc serve`)."""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server import auth, directory
from server import db as database
from server.auth import RateLimiter, address_key
from server.envelope import b64u_encode, generate_device_key
from server.errors import DomainError
from server.models import NewOrg, NewPerson
from server.web import api_error
from tests.support import hwc_serve

SECRET = "rate-limit-test-secret-" + "x" * 20


class StoppedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused_for(limiter: RateLimiter, key: str) -> int | None:
    """Retry-After in seconds when `key` is refused, None when it may go."""
    try:
        limiter.hit(key)
    except DomainError as error:
        answer = api_error(error)  # as the client sees it
        assert answer.status == 429
        return int(answer.headers["Retry-After"])
    return None


def test_a_burst_of_limit_then_one_per_interval() -> None:
    clock = StoppedClock()
    limiter = RateLimiter(20, 600, clock)
    assert [refused_for(limiter, "a") for _ in range(20)] == [None] * 20
    assert refused_for(limiter, "a") == 30
    assert refused_for(limiter, "b") is None  # per key
    clock.now += 29
    assert refused_for(limiter, "a") == 1
    clock.now += 1
    assert refused_for(limiter, "a") is None
    assert refused_for(limiter, "a") == 30
    clock.now += 600  # a whole window later the whole burst is back
    assert [refused_for(limiter, "a") for _ in range(20)] == [None] * 20
    assert refused_for(limiter, "a") == 30


def test_a_million_keys_take_bounded_memory_and_constant_work() -> None:
    clock = StoppedClock()
    limiter = RateLimiter(20, 600, clock, capacity=50_000)
    batch, batches, budget = 100_000, 10, 120.0
    started = time.perf_counter()
    seconds = []
    for n in range(batches):
        begun = time.perf_counter()
        for i in range(n * batch, (n + 1) * batch):
            limiter.hit(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/{i >> 24}")
            clock.now += 0.0001
            if i % 10_000 == 0:
                assert time.perf_counter() - started < budget, f"{i} keys took over {budget} s"
        seconds.append(time.perf_counter() - begun)
        assert len(limiter.spent_until) <= 50_000
    # The last batches, on a full table, cost what the first did (no scan of the table).
    assert statistics.median(seconds[-3:]) < 3 * min(seconds[:3]) + 0.5, seconds
    # The keys used last keep their counts: a busy key is still held back, and being held
    # back counts as use, so others' traffic does not push it out while it keeps trying.
    busy = "10.0.0.1/busy"
    for _ in range(20):
        limiter.hit(busy)
    for i in range(200_000):
        limiter.hit(f"other-{i}")
        if i % 10_000 == 0:
            assert refused_for(limiter, busy) is not None, i


def test_addresses_are_counted_as_one_subscriber_has_them() -> None:
    assert (
        address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("-") == "-"


# --- the real process ----------------------------------------------------------------------


@pytest.fixture
def untrusted(tmp_path: Path) -> Iterator[str]:
    with hwc_serve(tmp_path, HWC_SECRET_KEY=SECRET) as url:
        yield url


def junk(client: httpx.Client, forwarded_for: str) -> int:
    return client.post(
        "/api/enrol",
        headers={"X-Forwarded-For": forwarded_for},
        json={
            "token": "guess-" + secrets.token_urlsafe(20),
            "label": "x",
            "public_key": "A" * 87,
            "sig_key": "A" * 87,
        },
    ).status_code


def client_of(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-HWC": "1"}, timeout=10)


def real_link(tmp_path: Path) -> str:
    """A link the running server made: a person and a token in its database."""
    db = database.connect(str(tmp_path / "serve.db"))
    try:
        school = directory.create_org(
            db, NewOrg(kind="school", name="De Linde", code="RL01", region="noord"), time.time()
        )
        person = directory.create_person(
            db, NewPerson(name="Juf Ans", role="teacher", org_id=school), time.time()
        )
        return auth.make_enrol_token(db, SECRET, person, None, time.time(), 7)
    finally:
        db.close()


def test_forwarded_for_is_ignored_unless_a_proxy_is_configured(
    untrusted: str, tmp_path: Path
) -> None:
    with client_of(untrusted) as client:
        statuses = [junk(client, f"198.51.100.{n}") for n in range(21)]
        assert statuses == [400] * 20 + [429], statuses
        # Everyone shares this address now, as behind an untrusted router: a real link works.
        enrolled = client.post(
            "/api/enrol",
            json={
                "token": real_link(tmp_path),
                "label": "telefoon",
                "push": None,
                "public_key": b64u_encode(generate_device_key()[1]),
                "sig_key": b64u_encode(generate_device_key()[1]),
            },
        )
        assert enrolled.status_code == 201, enrolled.text


def test_a_configured_proxy_is_trusted(tmp_path: Path) -> None:
    with hwc_serve(tmp_path, HWC_TRUSTED_PROXY="127.0.0.1") as url, client_of(url) as client:
        rotating = [junk(client, f"198.51.100.{n}") for n in range(25)]
        assert rotating == [400] * 25, rotating
        one = [junk(client, "203.0.113.9") for _ in range(21)]
        assert one == [400] * 20 + [429], one
