"""Errors and logs: a crash is a JSON 500 with an error id and a log line without request data;
a full story leaves no name, birth date, credential, token, API key or push endpoint in any log
line; ids cannot be probed; rate limits answer 429 with Retry-After.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import auth
from server.app import create_app
from server.settings import Settings
from tests.conftest import LogCapture, process_world
from tests.fakepush_server import running_fake_push
from tests.support import (
    SERVE_COMMANDS,
    Device,
    World,
    base_url_of,
    free_socket,
    new_signal_id,
    seal,
    serving,
)

NAME, BORN = "Wendelmoet Ypsilantiskade", "2013-07-19"
FAKE_COOKIE = "dev1ce1d.s3cr3t-" + secrets.token_urlsafe(12)


# --- an unhandled error --------------------------------------------------------------------


@pytest.fixture
def crashing_app(tmp_path: Path) -> Iterator[httpx.Client]:
    """A real app with one more route, one that fails with request data in its message."""
    sock = free_socket()
    app = create_app(
        Settings(database=str(tmp_path / "hwc.db"), base_url=base_url_of(sock), run_workers=False)
    )

    async def crash(request: Request) -> Response:
        body = await request.json()
        # The message carries request data, as real exceptions often do (KeyError, SQL...).
        raise RuntimeError(
            f"no school for {body['name']} ({body['born']}), "
            f"cookie {request.cookies.get(auth.COOKIE)}"
        )

    app.router.routes.insert(0, Route("/api/crash", crash, methods=["POST"]))
    with serving(app, sock) as url, httpx.Client(base_url=url) as client:
        yield client


def test_unhandled_error_is_a_json_500_with_an_id_and_no_request_data(
    crashing_app: httpx.Client, log_capture: LogCapture
) -> None:
    response = crashing_app.post(
        f"/api/crash?name={NAME}",
        json={"name": NAME, "born": BORN},
        headers={"X-HWC": "1", "Cookie": f"{auth.COOKIE}={FAKE_COOKIE}"},
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    body = response.json()
    assert set(body) == {"error", "message", "error_id"}
    assert body["error"] == "server_error" and body["message"]
    assert re.fullmatch(r"[0-9a-f]{8,}", body["error_id"])
    for secret in (NAME, BORN, FAKE_COOKIE, "RuntimeError", "Traceback"):
        assert secret not in response.text
    error_lines = [line for line in log_capture.lines if body["error_id"] in line]
    assert error_lines, log_capture.lines
    assert "RuntimeError" in error_lines[0]  # the kind of error, for the operator
    assert_clean(log_capture.lines, [NAME, BORN, FAKE_COOKIE, "s3cr3t"])


# Loggers of the test's own HTTP client (the server never uses httpx): not server logs.
CLIENT_LOGGERS = ("httpx ", "httpcore.")


def assert_clean(lines: list[str], secrets_: list[str]) -> None:
    lines = [line for line in lines if not line.startswith(CLIENT_LOGGERS)]
    assert lines, "no log lines were captured: the check would prove nothing"
    for secret in secrets_:
        leaks = [line for line in lines if secret in line]
        assert not leaks, f"{secret!r} in the logs: {leaks[:3]}"


# --- what a deployed process writes --------------------------------------------------------

LOG_LINE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"[\w.]+ \S.*"
)


@pytest.mark.parametrize("command", SERVE_COMMANDS)
def test_the_server_process_logs_each_request_and_warnings_to_stdout(
    tmp_path: Path, command: str
) -> None:
    """`hwc serve` and the Procfile's command each write one line per request (method, route
    template, status, duration) and every warning to stdout; never a query, cookie or id."""
    signal_id = new_signal_id()
    with process_world(tmp_path / "hwc.db", command) as (world, server):
        client = world.client({"Cookie": f"{auth.COOKIE}={FAKE_COOKIE}"})
        assert client.get("/aanmelden").status_code == 200
        assert client.get("/api/me").status_code == 401
        assert client.get("/api/schools", params={"q": NAME}).status_code == 401
        assert client.post(f"/api/signals/{signal_id}/open").status_code == 401
        assert client.post(
            "/api/enrol", json={"token": NAME, "public_key": BORN, "label": NAME}
        ).status_code in (400, 422)
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")  # uvicorn warns about it
            raw.recv(1024)
        with socket.create_connection((host, int(port))) as raw:  # gone in the middle of a body
            raw.sendall(
                b"POST /api/enrol HTTP/1.1\r\nHost: x\r\nX-HWC: 1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"
            )
            time.sleep(0.3)
        time.sleep(0.3)
    stdout, stderr = server.output()
    lines = stdout.splitlines()
    assert lines, f"the server wrote nothing to stdout (stderr: {stderr[-2000:]})"
    assert [line for line in lines if not LOG_LINE.fullmatch(line)] == []
    access = [line.split(" ", 3)[3] for line in lines if " INFO hwc.access " in line]
    for expected in (
        r"GET /healthz 200",
        r"GET /aanmelden 200",
        r"GET /api/me 401",
        r"GET /api/schools 401",
        r"POST /api/signals/\{id\}/open 401",
        r"POST /api/enrol 4(00|22)",
        r"POST /api/enrol 499",
    ):
        assert [a for a in access if re.fullmatch(expected + r" \d+\.\dms", a)], (expected, access)
    assert [line for line in lines if " WARNING uvicorn.error Invalid HTTP request" in line]
    assert [line for line in lines if " hwc.error " in line] == []  # a gone client is no error
    assert_clean(
        lines + stderr.splitlines(), [NAME, BORN, FAKE_COOKIE, "s3cr3t", signal_id, "NOT HTTP"]
    )


def test_a_full_story_logs_nothing_secret(tmp_path: Path) -> None:
    """The real server process (push worker and timers running, HWC_LOG_LEVEL=DEBUG): every
    line it wrote, on stdout and stderr, is free of names, dates and credentials."""
    secrets_: list[str] = [NAME, BORN, "19-07-2013", "19 juli 2013"]
    with (
        running_fake_push() as (_, push_service),
        process_world(tmp_path / "hwc.db", HWC_LOG_LEVEL="DEBUG") as (world, server),
    ):
        admin = world.member("admin", None)
        school = _api(
            admin.post(
                "/api/admin/orgs",
                {"kind": "school", "name": "De Logschool", "code": "L0G5", "region": "zuid"},
            )
        )["id"]
        org = _api(admin.post("/api/admin/orgs", {"kind": "veilig_thuis", "name": "VT Log"}))["id"]
        api_key = _api(admin.post("/api/admin/api-keys", {"org_id": org, "label": "CMS"}))
        secrets_ += [api_key["api_key"], api_key["api_key"].split(".", 1)[1]]

        def enrol(role: str, org_id: str | None, push: bool = True) -> Device:
            person = _api(
                admin.post(
                    "/api/admin/people", {"name": f"{role} Log", "role": role, "org_id": org_id}
                )
            )["id"]
            link = _api(admin.post(f"/api/admin/people/{person}/enrol-link"))["link"]
            token = link.split("#", 1)[1]
            subscription = push_service.subscribe() if push else None
            device = world.device(person, push=subscription, token=token)
            secrets_.extend([token, device.credential, device.credential.split(".", 1)[1]])
            if subscription:
                secrets_.extend(
                    [
                        subscription["endpoint"],
                        subscription["endpoint"].rsplit("/", 1)[1],
                        subscription["keys"]["auth"],
                        subscription["keys"]["p256dh"],
                    ]
                )
            return device

        sender = enrol("sender", org, push=False)
        contact = enrol("contact", school)
        teacher = enrol("teacher", school)
        secrets_ += [admin.credential, admin.credential.split(".", 1)[1]]

        by_key = world.client({"Authorization": f"Bearer {api_key['api_key']}"})
        devices = _api(by_key.get(f"/api/schools/{school}/recipients"))["devices"]
        first = new_signal_id()
        _api(
            by_key.post(
                "/api/signals",
                json={
                    "id": first,
                    "recipient_id": school,
                    "envelopes": seal(devices, first, NAME, BORN),
                },
            )
        )
        assert contact.open(first)["name"] == NAME
        _api(world.forward(contact, first, school, [teacher.person_id], NAME, BORN))
        assert teacher.open(first)["name"] == NAME
        _api(teacher.post(f"/api/signals/{first}/done"))
        _api(contact.post(f"/api/signals/{first}/close", {"reason": "done"}))
        second = _api(world.send(sender, school, NAME, BORN))["id"]
        _api(contact.post(f"/api/signals/{second}/close", {"reason": "told_in_person"}))
        # Refusals that carry the secrets in the request: they must not be echoed to a log.
        world.client().post(
            "/api/enrol", json={"token": f"{NAME}-{BORN}", "public_key": NAME, "label": NAME}
        )
        sender.post("/api/signals", json={"id": first, "recipient_id": school, "name": NAME})
        world.client({"Cookie": f"{auth.COOKIE}={contact.credential}x"}).get("/api/me")
        sender.get(f"/api/schools?q={NAME}")
        _wait_for_pushes(world, push_service, expected=3)
        signal_ids = [first, second]
    stdout, stderr = server.output()
    lines = stdout.splitlines() + stderr.splitlines()
    assert any("hwc.access" in line for line in lines)
    assert any("hwc.push" in line for line in lines), "the push worker logged nothing"
    assert_clean(lines, secrets_)
    # Access lines name the route template, never an id from the path.
    access = [line for line in lines if " hwc.access " in line]
    assert_clean(access, signal_ids + [school, org, teacher.person_id])


def _api(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _wait_for_pushes(world: World, service: Any, expected: int) -> None:
    import time

    deadline = time.monotonic() + 15
    while len(service.messages) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(service.messages) >= expected, service.attempts


# --- probing and rate limits ---------------------------------------------------------------


@pytest.fixture
def two_schools(world: World) -> dict[str, Any]:
    ours, theirs = world.org(), world.org(name="Andere School")
    sender = world.member("sender", world.org("veilig_thuis", "VT Probe"))
    cast = {
        "sender": sender,
        "ours": ours,
        "theirs": theirs,
        "contact": world.member("contact", ours),
        "teacher": world.member("teacher", ours),
        "officer": world.member("officer", world.org("leerplicht", "LP Probe")),
        "their_contact": world.member("contact", theirs),
    }
    sent = world.send(sender, theirs, NAME, BORN)
    assert sent.status_code == 201
    cast["their_signal"] = sent.json()["id"]
    return cast


PROBES = {
    "open": ("open", None),
    "forward": (
        "forward",
        {
            "teachers": ["x"],
            "envelopes": [
                {
                    "device_id": "x",
                    "envelope": {
                        "v": 1,
                        "epk": "A" * 87,
                        "salt": "A" * 22,
                        "iv": "A" * 16,
                        "ct": "A" * 40,
                    },
                }
            ],
        },
    ),
    "close": ("close", {"reason": "not_our_pupil"}),
    "done": ("done", None),
    "relay": (
        "relay",
        {
            "school_id": "x",
            "envelopes": [
                {
                    "device_id": "x",
                    "envelope": {
                        "v": 1,
                        "epk": "A" * 87,
                        "salt": "A" * 22,
                        "iv": "A" * 16,
                        "ct": "A" * 40,
                    },
                }
            ],
        },
    ),
}
ROLE_OF = {
    "open": ("contact", "teacher", "officer"),
    "forward": ("contact",),
    "close": ("contact",),
    "done": ("teacher",),
    "relay": ("officer",),
}


@pytest.mark.parametrize("action", PROBES)
def test_not_yours_and_not_existing_look_the_same(action: str, two_schools: dict[str, Any]) -> None:
    path, body = PROBES[action]
    for role in ROLE_OF[action]:
        device: Device = two_schools[role]
        answers = set()
        for signal_id in (two_schools["their_signal"], new_signal_id(), "x"):
            response = device.post(f"/api/signals/{signal_id}/{path}", body)
            answers.add((response.status_code, response.text))
        assert len(answers) == 1, (action, role, answers)
        assert next(iter(answers))[0] == 404


def test_open_is_rate_limited_with_retry_after(world: World) -> None:
    contact = world.member("contact", world.org())
    world.app.state.limits["open"].clock = lambda: 1000.0  # the burst, without its refill
    limit = world.app.state.limits["open"].limit
    statuses = [
        contact.post(f"/api/signals/{new_signal_id()}/open").status_code for _ in range(limit)
    ]
    assert set(statuses) == {404}
    assert_rate_limited(contact.post(f"/api/signals/{new_signal_id()}/open"))
    # Per device: another device is not held back.
    assert (
        world.member("teacher", contact_school(world, contact))
        .post(f"/api/signals/{new_signal_id()}/open")
        .status_code
        == 404
    )


def contact_school(world: World, device: Device) -> str:
    return str(
        world.db.execute("SELECT org_id FROM people WHERE id = ?", [device.person_id]).fetchone()[0]
    )


def test_send_is_rate_limited_with_retry_after(world: World) -> None:
    sender = world.member("sender", world.org("veilig_thuis", "VT Limit"))
    world.app.state.limits["send"].clock = lambda: 1000.0  # the burst, without its refill
    limit = world.app.state.limits["send"].limit
    for _ in range(limit):
        assert sender.post("/api/signals", {}).status_code == 422
    assert_rate_limited(sender.post("/api/signals", {}))


def test_enrolment_is_rate_limited_per_address(world: World) -> None:
    client = world.client()
    limit = world.app.state.limits["enrol_ip"].limit

    def body() -> dict:  # a new token each time: the per-token limit must not be what trips
        return {
            "token": secrets.token_urlsafe(30),
            "public_key": "A" * 87,
            "sig_key": "A" * 87,
            "label": "x",
        }

    for _ in range(limit):
        assert client.post("/api/enrol", json=body()).status_code in (400, 422)
    assert_rate_limited(client.post("/api/enrol", json=body()))


def test_enrolment_is_rate_limited_per_token(world: World) -> None:
    limit = world.app.state.limits["enrol_token"].limit
    token = world.enrol_link_token(world.person("teacher", world.org()))
    body = {
        "token": token,
        "public_key": "A" * 87,
        "sig_key": "A" * 87,
        "label": "x",
    }  # a key not on the curve
    for _ in range(limit):  # each from another address would be the same: keyed on the token
        assert world.client().post("/api/enrol", json=body).status_code == 422
    assert_rate_limited(world.client().post("/api/enrol", json=body))


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "rate_limited" and response.json()["message"]
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 3600
    assert response.headers["cache-control"] == "no-store"
