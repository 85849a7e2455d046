"""The server POSTs to registered push endpoints: only known push services qualify (SSRF).

Checked twice: the URL when a device registers it (and again before every push), and every
address its host resolves to when the worker connects (no second lookup, no redirects).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading

import aiohttp
import pytest

from server.envelope import b64u_encode, generate_device_key
from server.errors import DomainError
from server.push import EndpointPolicy, RefusedAddress, check_endpoint, checked_connector
from server.settings import Settings
from server.web import api_error
from tests.support import World

PRODUCTION = Settings(base_url="https://hwc.example.nl")
ANY_PUBLIC = PRODUCTION.replace(push_hosts="*")
DEVELOPMENT = Settings(base_url="http://127.0.0.1:8000")
KEYS = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}

# Every spelling of an internal address that was accepted before (issue 17, item 3).
INTERNAL = [
    "https://0x7f000001/push",
    "https://0x7f000001:8443/push",
    "https://127.1/push",
    "https://0/push",
    "https://0177.0.0.1/push",
    "https://2130706433/push",
    "https://localhost./push",
    "https://localhost/push",
    "https://[64:ff9b::7f00:1]/push",
    "https://[::ffff:127.0.0.1]/push",
    "https://[::ffff:7f00:1]/push",
    "https://[::1]/push",
    "https://[::7f00:1]/push",
    "https://[2002:7f00:1::1]/push",
    "https://[fe80::1]/push",
    "https://[fc00::1]/push",
    "https://10.0.0.1/push",
    "https://192.168.1.5/push",
    "https://169.254.169.254/latest",
    "https://100.64.0.1/push",
    "https://127.0.0.1/push",
    "https://printer.local/push",
    "https://metadata.internal/push",
    "https://224.0.0.1/push",
    "http://127.0.0.1:8123/push/abc",
]


def refused(endpoint: str, settings: Settings) -> bool:
    try:
        check_endpoint(endpoint, EndpointPolicy.of(settings))
    except DomainError as error:
        answer = api_error(error)  # as the client sees it
        assert answer.status == 422
        return True
    return False


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/abc",
        "https://wns2-par02p.notify.windows.com/w/?token=abc",
        "https://fcm.googleapis.com:443/fcm/send/abc",
    ],
)
def test_the_known_push_services_are_accepted(endpoint: str) -> None:
    assert not refused(endpoint, PRODUCTION)


@pytest.mark.parametrize(
    "endpoint",
    [
        *INTERNAL,
        "http://fcm.googleapis.com/fcm/send/abc",  # not https
        "https://push.example.org/abc",  # a public host, but not a push service
        "https://fcm.googleapis.com.evil.example/abc",
        "https://evilfcm.googleapis.com/abc",
        "https://push.apple.com.evil.example/abc",
        "https://fcm.googleapis.com./abc",
        "https://user@fcm.googleapis.com/abc",
        "https://fcm.googleapis.com%2f@127.0.0.1/abc",
        "https://fcm.googleapis.com\\@127.0.0.1/abc",
        "https://fcm.googleapis.com:8443/abc",
        "https://[::1/abc",
        "fcm.googleapis.com/abc",
        "",
    ],
)
def test_anything_else_is_refused_by_default(endpoint: str) -> None:
    assert refused(endpoint, PRODUCTION)


@pytest.mark.parametrize("endpoint", INTERNAL)
def test_internal_addresses_stay_refused_when_any_public_host_is_allowed(endpoint: str) -> None:
    assert refused(endpoint, ANY_PUBLIC)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://push.example.org/abc",
        "https://8.8.8.8/abc",
        "https://[2606:4700::1111]/abc",
        "https://[64:ff9b::808:808]/abc",  # NAT64 of a public address
    ],
)
def test_any_public_host_when_the_operator_allows_it(endpoint: str) -> None:
    assert not refused(endpoint, ANY_PUBLIC)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8123/push/abc",
        "http://localhost:8123/push/abc",
        "http://[::1]:8123/push/abc",
        "https://fcm.googleapis.com/fcm/send/abc",
    ],
)
def test_a_loopback_development_server_also_accepts_loopback(endpoint: str) -> None:
    assert not refused(endpoint, DEVELOPMENT)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://10.0.0.1/push",
        "http://127.1:8123/push",
        "http://0x7f000001:8123/push",
        "http://2130706433:8123/push",
        "http://push.example.org/abc",
    ],
)
def test_a_development_server_refuses_other_internal_or_odd_hosts(endpoint: str) -> None:
    assert refused(endpoint, DEVELOPMENT)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
        ("127.0.0.1", False),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("233.1.1.1", False),
        ("::1", False),
        ("::", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a00:1", False),
        ("64:ff9b:1::808:808", False),
        ("::7f00:1", False),
        ("2002:7f00:1::1", False),
        ("2001:0:7f00:1::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
    ],
)
def test_address_policy(address: str, public: bool) -> None:
    assert EndpointPolicy.of(PRODUCTION).allows_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("8.8.8.8", True),
        ("10.1.2.3", False),
        ("169.254.169.254", False),
        ("fc00::1", False),
        ("0.0.0.0", False),
    ],
)
def test_a_loopback_development_server_adds_loopback_and_nothing_else(
    address: str, allowed: bool
) -> None:
    assert EndpointPolicy.of(DEVELOPMENT).allows_address(ipaddress.ip_address(address)) is allowed


class Listener:
    """A loopback TCP server that counts the connections it gets and answers 204."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            conn.close()


@pytest.fixture
def listener() -> Listener:
    server = Listener()
    yield server
    server.sock.close()


async def post_via_checked_connector(url: str, settings: Settings) -> int:
    policy = EndpointPolicy.of(settings)
    async with aiohttp.ClientSession(connector=checked_connector(policy, 4, 4)) as session:
        async with session.post(url, data=b"x") as response:
            return response.status


@pytest.mark.parametrize("host", ["localhost", "0x7f000001"])
def test_the_connector_refuses_names_that_resolve_to_internal_addresses(
    listener: Listener, host: str
) -> None:
    """The resolved addresses are checked and only those are connected to: the URL check
    cannot see what a name (or a numeric spelling the resolver reads) points at. Literal
    addresses never reach the resolver; the worker's URL check (allows_url) refuses those."""
    url = f"http://{host}:{listener.port}/push"
    with pytest.raises(aiohttp.ClientConnectorError) as refused:
        asyncio.run(post_via_checked_connector(url, PRODUCTION))
    assert isinstance(refused.value.os_error, RefusedAddress)
    assert listener.connections == 0


def test_the_connector_connects_a_development_server_to_loopback(listener: Listener) -> None:
    url = f"http://localhost:{listener.port}/push"
    assert asyncio.run(post_via_checked_connector(url, DEVELOPMENT)) == 204
    assert listener.connections == 1


def test_enrolment_refuses_an_internal_endpoint_but_accepts_loopback_in_development(
    world: World,
) -> None:
    school = world.org()
    person = world.person("contact", school)
    client = world.client()
    body = {
        "token": world.enrol_link_token(person),
        "label": "tel",
        "public_key": b64u_encode(generate_device_key()[1]),
        "sig_key": b64u_encode(generate_device_key()[1]),
        "push": {"endpoint": "https://10.1.2.3/push", "keys": KEYS},
    }
    answer = client.post("/api/enrol", json=body)
    assert answer.status_code == 422 and answer.json()["error"] == "bad_push_endpoint"
    body["push"]["endpoint"] = "http://127.0.0.1:9/push/abc"  # this test server is on loopback
    assert client.post("/api/enrol", json=body).status_code == 201
