"""API conformance and fuzzing against the live app on loopback.

Schemathesis reads /api/openapi.json from the running server and generates valid (positive)
and invalid (negative) requests for every operation, sent with the device cookie of each role
(and an organisation API key, and nobody). Every response must be no 5xx, a documented status,
JSON that matches the documented schema, and invalid data must be refused. Then hand-written
hostile bodies: malformed, mistyped, huge, deeply nested, bad UTF-8, NUL bytes, oversized (with
Content-Length and chunked) and a body that trickles in while others are served.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from server import auth
from server.api import API_ROUTES
from server.auth import COOKIE, RateLimiter
from server.openapi import RESPONSES
from server.policy import ENVELOPES_BODY_MAX
from tests.conftest import live_world
from tests.support import Device, World

ROLES = ("admin", "sender", "contact", "teacher", "officer")
CALLERS = (*ROLES, "api_key", "nobody")
MAX_EXAMPLES = 12  # per operation and mode; the whole file stays well under a minute
# A body of up to 50 envelopes is slow to generate (a second per case on a busy machine).
MAX_EXAMPLES_WITH_ENVELOPES = 6
NAME, BORN = "Fuzzy Quispelaar", "2015-05-05"

# Data that is invalid by the schema must be refused. 413 is a refusal too: a body over the
# server's limit is not read at all (the CSV imports document more than the limit allows).
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 409, 413, 415, 422, 429]
            },
            # Valid by the schema is not always valid: a key must be on the curve, an envelope must
            # cover the current devices, a school needs a code. Those are 4xx, documented per route.
            "positive_data_acceptance": {"enabled": False},
        }
    }
)


class Cast:
    """One device per role, re-enrolled whenever the fuzzer revokes it (key-lost, revoke)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.school = world.org()
        self.veilig_thuis = world.org("veilig_thuis", "Veilig Thuis Fuzz")
        self.leerplicht = world.org("leerplicht", "Leerplicht Fuzz")
        self.org_of = {
            "admin": None,
            "sender": self.veilig_thuis,
            "contact": self.school,
            "teacher": self.school,
            "officer": self.leerplicht,
        }
        self.devices: dict[str, Device] = {}
        self.api_key = auth.make_api_key(world.db, self.veilig_thuis, "fuzz", world.now())

    def device(self, role: str) -> Device:
        device = self.devices.get(role)
        if device is None or self._revoked(device):
            device = self.devices[role] = self.world.member(role, self.org_of[role])
        return device

    def _revoked(self, device: Device) -> bool:
        """Revoked, or erased altogether (the erase route is fuzzed with these ids too)."""
        row = self.world.db.execute(
            "SELECT d.revoked_at IS NOT NULL OR p.revoked_at IS NOT NULL FROM devices d "
            "JOIN people p ON p.id = d.person_id WHERE d.id = ?",
            [device.device_id],
        ).fetchone()
        return row is None or bool(row[0])  # None: erased

    def signals(self) -> list[str]:
        """A few real signals in different states, so ids in paths sometimes exist."""
        world, contact, teacher = self.world, self.device("contact"), self.device("teacher")
        sender, officer = self.device("sender"), self.device("officer")
        ids = []
        for _ in range(3):
            sent = world.send(sender, self.school, NAME, BORN)
            assert sent.status_code == 201, sent.text
            ids.append(sent.json()["id"])
        world.forward(contact, ids[1], self.school, [teacher.person_id], NAME, BORN)
        via_office = world.send(sender, self.leerplicht, NAME, BORN)
        assert via_office.status_code == 201, via_office.text
        officer.open(via_office.json()["id"])
        return [*ids, via_office.json()["id"]]


@pytest.fixture(scope="module")
def cast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cast]:
    with live_world(Path(tmp_path_factory.mktemp("fuzz")) / "hwc.db") as world:
        # Rate limits are tested on their own (test_errors_and_logs); here they would only
        # turn the deeper code paths into 429s.
        for name in world.app.state.limits:
            world.app.state.limits[name] = RateLimiter(10**9, 60)
        yield Cast(world)


@pytest.fixture(scope="module")
def schema(cast: Cast) -> Any:
    return schemathesis.openapi.from_url(cast.world.url + "/api/openapi.json", config=CONFIG)


@pytest.fixture(scope="module")
def path_ids(cast: Cast) -> dict[str, list[str]]:
    """Real ids for each kind of path, so generated requests sometimes find something."""
    victim = cast.world.member("teacher", cast.school)
    spare_key = auth.make_api_key(cast.world.db, cast.veilig_thuis, "fuzz 2", cast.world.now())
    return {
        "/api/schools/": [cast.school, cast.leerplicht],
        "/api/signals/": cast.signals(),
        "/api/admin/orgs/": [cast.school, cast.veilig_thuis],
        "/api/orgs/": [cast.school, cast.leerplicht],
        "/api/admin/people/": [victim.person_id, cast.device("teacher").person_id],
        "/api/admin/devices/": [victim.device_id, cast.device("contact").device_id],
        "/api/admin/api-keys/": [auth.api_key_id(spare_key)],
    }


def test_every_api_route_is_documented(cast: Cast) -> None:
    document = httpx.get(cast.world.url + "/api/openapi.json").json()
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    assert documented == {(r.method, r.path) for r in API_ROUTES}
    for route in API_ROUTES:
        operation = document["paths"][route.path][route.method.lower()]
        assert route.endpoint.__name__ in RESPONSES, f"{route.path}: no response type"
        for status, response in operation["responses"].items():
            schema = response["content"]["application/json"]["schema"]
            assert schema, f"{route.method} {route.path} {status}: empty response schema"
        if route.public:
            assert operation["security"] == []


def test_undeclared_methods_are_405_with_the_right_allow(cast: Cast) -> None:
    """What schemathesis's coverage phase checks (unsupported_method, allow_header_conformance),
    for every API path: another method is 405 and Allow names exactly the declared ones."""
    declared: dict[str, set[str]] = {}
    for route in API_ROUTES:
        declared.setdefault(route.path, set()).add(route.method)
    client = cast.device("admin").http
    for path, methods in declared.items():
        allowed = methods | ({"HEAD"} if "GET" in methods else set())
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - allowed:
            response = client.request(method, path.replace("{id}", "x"))
            assert response.status_code == 405, (method, path, response.status_code)
            assert set(response.headers["allow"].split(", ")) == allowed, (method, path)
            assert response.json()["error"] == "method_not_allowed"


def _operation_params() -> list[Any]:
    params = []
    for route in API_ROUTES:
        label = f"{route.method} {route.path}"
        params.append(pytest.param(route, id=label))
    return params


@pytest.mark.parametrize("route", _operation_params())
def test_operation_conforms(
    route: Any, cast: Cast, schema: Any, path_ids: dict[str, list[str]]
) -> None:
    operation = schema[route.path][route.method]
    statuses: Counter[int] = Counter()
    modes = [GenerationMode.POSITIVE]
    # Something to make invalid: a body, a header, a credential. A public route's only path
    # parameter is any string (an unknown id is a 404, not an invalid request).
    if operation.body or operation.headers or not route.public:
        modes.append(GenerationMode.NEGATIVE)
    # Half the cases come from a role the route is for, so they reach its handler.
    allowed = [r for r in getattr(route.endpoint, "roles", ROLES) if r in ROLES]
    callers = st.one_of(st.sampled_from(allowed), st.sampled_from(CALLERS))
    envelopes = "envelopes" in getattr(route.body, "__struct_fields__", ())
    examples = MAX_EXAMPLES_WITH_ENVELOPES if envelopes else MAX_EXAMPLES
    for mode in modes:
        strategy = operation.as_strategy(generation_mode=mode)
        real_ids = next(
            (ids for prefix, ids in path_ids.items() if route.path.startswith(prefix)), []
        )
        if mode is GenerationMode.POSITIVE and real_ids:
            strategy = st.one_of(
                strategy,
                *(
                    operation.as_strategy(generation_mode=mode, path_parameters={"id": i})
                    for i in real_ids
                ),
            )

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, caller=callers)
        def call(case: Any, caller: str) -> None:
            credentials: dict[str, Any] = {}
            if caller != "nobody":
                # Given explicitly, so schemathesis also probes the same request without them
                # and with invalid ones; a generated bearer header would win over the cookie.
                (case.headers or {}).pop("Authorization", None)
                (case.cookies or {}).pop(COOKIE, None)
            if caller in ROLES:
                credentials["cookies"] = {COOKIE: cast.device(caller).credential}
            elif caller == "api_key":
                credentials["headers"] = {"Authorization": f"Bearer {cast.api_key}"}
            response = case.call_and_validate(**credentials)
            statuses[response.status_code] += 1

        call()
    # The fuzzer must get past the authentication layer, or it tested nothing but that.
    assert set(statuses) - {401, 403}, f"only {dict(statuses)}"


def test_api_key_for_an_unknown_org_is_refused(cast: Cast) -> None:
    response = cast.device("admin").post("/api/admin/api-keys", {"org_id": "nope", "label": "x"})
    assert_clean_refusal(response, 404, 422)


def test_push_endpoint_with_a_bracket_in_its_host_is_refused(cast: Cast) -> None:
    push = {"endpoint": "https://push[.example/x", "keys": {"p256dh": "A" * 87, "auth": "A" * 22}}
    response = cast.device("contact").http.put("/api/me/push", json={"push": push})
    assert_clean_refusal(response, 422)


# --- hand-written hostile requests ---------------------------------------------------------


@pytest.fixture
def sender(cast: Cast) -> Device:
    return cast.device("sender")


def assert_clean_refusal(response: httpx.Response, *statuses: int) -> dict:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def post_raw(
    device: Device, path: str, content: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return device.http.post(path, content=content, headers={"content-type": content_type})


HOSTILE_BODIES = {
    "malformed json": b'{"id": "abc", ',
    "empty body": b"",
    "not an object": b'"just a string"',
    "wrong types": b'{"id": 12, "recipient_id": ["x"], "envelopes": "many"}',
    "unknown field": json.dumps(
        {"id": "A" * 22, "recipient_id": "x", "envelopes": [], "name": NAME}
    ).encode(),
    "huge integer": b'{"id": ' + b"9" * 5000 + b"}",
    "huge float": b'{"id": 1e999999}',
    # Reaches the envelope check: the real school and its contact's device (filled in below).
    "huge integer inside": json.dumps(
        {
            "id": "A" * 22,
            "recipient_id": "SCHOOL",
            "envelopes": [
                {
                    "device_id": "DEVICE",
                    "envelope": {
                        "v": 10**300,
                        "epk": "A" * 87,
                        "salt": "A" * 22,
                        "iv": "A" * 16,
                        "ct": "A" * 40,
                    },
                }
            ],
        }
    ).encode(),
    "deep nesting": b"[" * 10_000 + b"]" * 10_000,
    "deep nesting in a field": b'{"id": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "deep objects": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "invalid utf-8": b'{"id": "\xff\xfe\xfd", "recipient_id": "x", "envelopes": []}',
    "lone surrogate": b'{"id": "\\ud800", "recipient_id": "x", "envelopes": []}',
    "nul byte in a string": b'{"id": "AAAAAAAAAAA\\u0000AAAAAAAAAA", "recipient_id": "x", '
    b'"envelopes": []}',
    "raw nul byte": b'{"id": "AAAA\x00"}',
    "duplicate keys": b'{"id": "a", "id": "b"}',
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_hostile_body_is_a_clean_4xx(body: bytes, sender: Device, cast: Cast) -> None:
    body = body.replace(b"SCHOOL", cast.school.encode()).replace(
        b"DEVICE", cast.device("contact").device_id.encode()
    )
    assert_clean_refusal(post_raw(sender, "/api/signals", body), 400, 404, 409, 422)


NUL_FIELDS = {
    "enrol label": (
        "nobody",
        "/api/enrol",
        {"token": "t" * 20, "public_key": "A" * 87, "sig_key": "A" * 87, "label": "tele\x00foon"},
    ),
    "enrol token": (
        "nobody",
        "/api/enrol",
        {
            "token": "t" * 10 + "\x00",
            "public_key": "A" * 87,
            "sig_key": "A" * 87,
            "label": "telefoon",
        },
    ),
    "person name": ("admin", "/api/admin/people", {"name": "Jan\x00", "role": "admin"}),
    "school name": (
        "admin",
        "/api/admin/orgs",
        {"kind": "school", "name": "De \x00School", "code": "NUL1", "region": "noord"},
    ),
    "class label": (
        "admin",
        "/api/admin/people",
        {"name": "Jan", "role": "admin", "class_label": "5\x1bb"},
    ),
    "school csv": (
        "admin",
        "/api/admin/schools/import",
        {"csv": "name,place,code,region\nDe \x00School,Ede,NUL2,midden\n"},
    ),
    "push endpoint": (
        "contact",
        "/api/me/push",
        {
            "push": {
                "endpoint": "https://fcm.googleapis.com/\x00x",
                "keys": {"p256dh": "A" * 87, "auth": "A" * 22},
            }
        },
    ),
}


@pytest.mark.parametrize("caller,path,body", NUL_FIELDS.values(), ids=NUL_FIELDS.keys())
def test_control_characters_are_refused(caller: str, path: str, body: dict, cast: Cast) -> None:
    client = cast.world.client() if caller == "nobody" else cast.device(caller).http
    method = "PUT" if path == "/api/me/push" else "POST"
    response = client.request(method, path, json=body)
    assert_clean_refusal(response, 422)


def test_wrong_content_type_is_415(sender: Device) -> None:
    body = assert_clean_refusal(post_raw(sender, "/api/signals", b"{}", "text/plain"), 415)
    assert body["error"] == "unsupported_media_type"


def test_ten_megabytes_with_content_length_is_refused_unread(sender: Device) -> None:
    """413 is answered from the headers alone: the server closes without reading the body."""
    with socket.create_connection(_address(sender), timeout=5) as sock:
        sock.sendall(_post_head(sender, f"Content-Length: {10 * 1024 * 1024}"))
        sock.sendall(b"{" + b" " * 1000)  # a little of the body; the rest never comes
        status, headers, body = read_response(sock)
    assert status == 413
    assert headers.get("connection") == "close"
    assert json.loads(body) == {"error": "too_large", "message": "Het verzoek is te groot."}


def test_ten_megabytes_chunked_is_refused_at_the_limit(sender: Device) -> None:
    """Without a Content-Length the server reads up to its limit, then answers 413 and stops."""
    sent = 0
    with socket.create_connection(_address(sender), timeout=5) as sock:
        sock.sendall(_post_head(sender, "Transfer-Encoding: chunked"))
        chunk = b"10000\r\n" + b" " * 65536 + b"\r\n"
        try:
            # Past the limit, each further chunk waits a moment for the answer: on a busy
            # machine the server may take a while to get to it, and what is measured is
            # whether it stops reading, not how fast it is scheduled.
            while sent < 10 * 1024 * 1024 and not _readable(
                sock, 0.5 if sent > ENVELOPES_BODY_MAX else 0
            ):
                sock.sendall(chunk)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading and closed: what we want
        status, headers, body = read_response(sock)
    assert status == 413
    assert json.loads(body)["error"] == "too_large"
    # The limit (sized for MAX_ENVELOPES envelopes); socket buffers take some more before the
    # answer is seen.
    assert sent < ENVELOPES_BODY_MAX + 4 * 1024 * 1024, f"the server read {sent} bytes"


def test_huge_declared_length_and_bad_length_are_refused(sender: Device) -> None:
    for length in ("99999999999999999999", "-1", "12abc"):
        with socket.create_connection(_address(sender), timeout=5) as sock:
            sock.sendall(_post_head(sender, f"Content-Length: {length}"))
            status, _, _ = read_response(sock)
        assert status in (400, 413), (length, status)


def test_a_trickling_body_does_not_block_other_clients(cast: Cast) -> None:
    """A client that sends a byte now and then holds one connection, nothing more: others are
    answered at once meanwhile (a blocked server would keep them for the whole trickle)."""
    device = cast.device("sender")
    trickle = 3.0
    with socket.create_connection(_address(device), timeout=10) as slow:
        slow.sendall(_post_head(device, "Content-Length: 5000"))
        started = time.monotonic()
        slowest = 0.0
        while time.monotonic() - started < trickle:
            slow.sendall(b" ")
            asked = time.monotonic()
            assert cast.device("contact").get("/api/signals").status_code == 200
            slowest = max(slowest, time.monotonic() - asked)
            time.sleep(0.1)
    assert slowest < trickle / 3, f"another client waited {slowest:.2f} s"


def _post_head(device: Device, length_header: str) -> bytes:
    return (
        f"POST /api/signals HTTP/1.1\r\nHost: 127.0.0.1\r\nX-HWC: 1\r\n"
        f"Content-Type: application/json\r\nCookie: {COOKIE}={device.credential}\r\n"
        f"{length_header}\r\n\r\n"
    ).encode()


def _readable(sock: socket.socket, wait: float = 0) -> bool:
    return bool(select.select([sock], [], [], wait)[0])


def _address(device: Device) -> tuple[str, int]:
    host, port = str(device.http.base_url).removeprefix("http://").rstrip("/").split(":")
    return host, int(port)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length, read off a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:  # the server dropped unread input; what came is enough
            break
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body
