"""Every refusal of the signal API with its status and Dutch message, the close and done rules,
the teacher's one-time copy, link-preview safety, and the `hwc send` Python client."""

from __future__ import annotations

import os
import pty
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from server.auth import COOKIE, RateLimiter
from server.client import Client, ClientError, check_child
from server.clock import FrozenClock
from server.envelope import b64u_decode, b64u_encode, encrypt_envelope
from server.policy import ENVELOPES_BODY_MAX
from tests.conftest import live_world
from tests.support import ROOT, Device, World, new_signal_id, seal

NAME, BORN = "Saar de Wit", "2014-10-02"

# --- the shape of a refusal ----------------------------------------------------------------

DUTCH = {
    "de",
    "het",
    "een",
    "is",
    "niet",
    "dit",
    "deze",
    "u",
    "te",
    "van",
    "al",
    "nog",
    "geen",
    "of",
    "en",
    "op",
    "er",
    "zijn",
    "heeft",
    "mag",
    "met",
    "als",
    "hier",
    "door",
    "stuur",
    "kloppen",
    "gegevens",
    "verzoek",
    "apparaat",
    "signaal",
    "intussen",
    "ongeldig",
}
ENGLISH = {
    "the",
    "not",
    "found",
    "error",
    "invalid",
    "please",
    "your",
    "request",
    "expected",
    "missing",
    "field",
    "method",
    "allowed",
    "unsupported",
    "payload",
}


def assert_dutch(message: str) -> None:
    words = set(re.findall(r"[a-zà-ÿ]+", message.lower()))
    assert words & DUTCH, message
    assert not words & ENGLISH, message


def refused(
    response: httpx.Response, status: int, code: str, extra: frozenset[str] = frozenset()
) -> dict:
    """The JSON error shape {"error", "message"} (plus named extras), a Dutch message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/json"
    body = response.json()
    assert body["error"] == code, body
    allowed_keys = {"error", "message"} | extra | ({"detail", "field"} if status == 422 else set())
    assert {"error", "message"} <= set(body) <= allowed_keys, body
    assert_dutch(body["message"])
    return dict(body)


# --- a school office: everything most tests need, in one served app -------------------------


class Office:
    def __init__(self, world: World) -> None:
        w = self.world = world
        self.school = w.org(name="Basisschool De Regenboog")
        self.school_b = w.org(name="Basisschool Het Anker")
        self.empty_school = w.org(name="Basisschool Zonder Contact")
        self.vt = w.org("veilig_thuis", "Veilig Thuis Utrecht")
        self.lp = w.org("leerplicht", "Leerplicht Utrecht")
        self.admin = w.member("admin", None)
        self.sender = w.member("sender", self.vt)
        self.c1 = w.member("contact", self.school, name="Ingrid IB")
        self.c2 = w.member("contact", self.school, name="Dirk Directeur")
        self.cb = w.member("contact", self.school_b)
        self.t1a = w.member("teacher", self.school, name="Juf Anna", class_label="groep 4")
        self.t1b = w.device(self.t1a.person_id)  # Anna's second device
        self.t2 = w.member("teacher", self.school, name="Meester Bram", class_label="groep 6")
        self.t3 = w.person("teacher", self.school, name="Juf Zonder Telefoon")
        self.tb = w.member("teacher", self.school_b)
        self.o1 = w.member("officer", self.lp)
        self.o2 = w.member("officer", self.lp)

    def send(self, to: str | None = None) -> str:
        response = self.world.send(self.sender, to or self.school, NAME, BORN)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def forward(
        self, signal_id: str, teachers: list[Device] | None = None, by: Device | None = None
    ) -> None:
        ids = [t.person_id for t in teachers or [self.t2]]
        response = self.world.forward(by or self.c1, signal_id, self.school, ids, NAME, BORN)
        assert response.status_code == 200, response.text

    def relay(self, signal_id: str, by: Device | None = None) -> httpx.Response:
        devices = (by or self.o1).get(f"/api/schools/{self.school}/recipients").json()["devices"]
        return (by or self.o1).post(
            f"/api/signals/{signal_id}/relay",
            json={"school_id": self.school, "envelopes": seal(devices, signal_id, NAME, BORN)},
        )

    def recipients(self, org_id: str | None = None) -> list[dict]:
        response = self.sender.get(f"/api/schools/{org_id or self.school}/recipients")
        assert response.status_code == 200, response.text
        return list(response.json()["devices"])

    def state(self, signal_id: str) -> str:
        return str(
            self.world.db.execute("SELECT state FROM signals WHERE id = ?", [signal_id]).fetchone()[
                0
            ]
        )

    def envelope_holders(self, signal_id: str) -> set[str]:
        rows = self.world.db.execute(
            "SELECT device_id FROM envelopes WHERE signal_id = ?", [signal_id]
        ).fetchall()
        return {r[0] for r in rows}


def relax_limits(world: World) -> None:
    for name, limiter in list(world.app.state.limits.items()):
        world.app.state.limits[name] = RateLimiter(10**9, limiter.window)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    with live_world(Path(tmp_path_factory.mktemp("office")) / "hwc.db") as world:
        relax_limits(world)
        yield Office(world)


def counts(world: World) -> dict[str, int]:
    return {
        t: world.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("signals", "envelopes", "signal_events", "signal_teachers", "outbox")
    }


# --- sending: each malformed request refused, nothing stored ----------------------------------


def point_off_curve(valid_epk: str) -> str:
    raw = bytearray(b64u_decode(valid_epk))
    raw[-1] ^= 1  # y + 1 (or - 1): not on P-256 for this x
    return b64u_encode(bytes(raw))


def set_envelope(field: str, value: Any) -> Callable[[dict], None]:
    def mutate(body: dict) -> None:
        body["envelopes"][0]["envelope"][field] = value

    return mutate


def noncanonical(text: str) -> str:
    """The same length, but the last character carries bits that are not part of the bytes."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:-1] + alphabet[alphabet.index(text[-1]) | 1]


SEND_CASES: list[tuple[str, Callable[[dict], None], int, str]] = [
    ("id 21 chars", lambda b: b.update(id=b["id"][:21]), 422, "invalid"),
    ("id 23 chars", lambda b: b.update(id=b["id"] + "A"), 422, "invalid"),
    ("id with +", lambda b: b.update(id=b["id"][:21] + "+"), 422, "invalid"),
    ("id padded", lambda b: b.update(id=b["id"][:20] + "=="), 422, "invalid"),
    ("id not 16 bytes", lambda b: b.update(id=noncanonical(b["id"])), 422, "bad_signal_id"),
    ("id a number", lambda b: b.update(id=12345), 422, "invalid"),
    ("empty envelopes", lambda b: b.update(envelopes=[]), 422, "invalid"),
    ("ct over 1024 bytes", set_envelope("ct", b64u_encode(b"\1" * 1025)), 422, "invalid"),
    ("ct under tag size", set_envelope("ct", b64u_encode(b"\1" * 16)), 422, "invalid"),
    ("ct not base64url", set_envelope("ct", "ab+/" * 10), 422, "invalid"),
    ("salt not base64url", set_envelope("salt", "+" * 22), 422, "invalid"),
    ("salt with padding", set_envelope("salt", "A" * 20 + "=="), 422, "invalid"),
    ("salt 21 chars", set_envelope("salt", "A" * 21), 422, "invalid"),
    ("iv 15 chars", set_envelope("iv", "A" * 15), 422, "invalid"),
    ("epk 86 chars", set_envelope("epk", "A" * 86), 422, "invalid"),
    ("v=2", set_envelope("v", 2), 422, "bad_envelope"),
    ("v=0", set_envelope("v", 0), 422, "bad_envelope"),
    ("v=3 without a signature", set_envelope("v", 3), 422, "bad_envelope"),
    (
        "signer on version 1",
        set_envelope("signer", {"org": "o", "device": "d"}),
        422,
        "bad_envelope",
    ),
    ("sig 85 chars", set_envelope("sig", "A" * 85), 422, "invalid"),
    (
        "signer with a role",
        set_envelope("signer", {"org": "o", "device": "d", "r": "x"}),
        422,
        "invalid",
    ),
    ("v=true", set_envelope("v", True), 422, "invalid"),
    ("v='1'", set_envelope("v", "1"), 422, "invalid"),
    ("envelope field missing", lambda b: b["envelopes"][0]["envelope"].pop("iv"), 422, "invalid"),
    ("unknown field", lambda b: b.update(name=NAME), 422, "invalid"),
    ("unknown envelope field", set_envelope("aad", "x"), 422, "invalid"),
    ("unknown item field", lambda b: b["envelopes"][0].update(public_key="x"), 422, "invalid"),
    ("recipient malformed", lambda b: b.update(recipient_id="../etc"), 422, "invalid"),
    (
        "recipient unknown",
        lambda b: b.update(recipient_id=new_signal_id()),
        404,
        "unknown_recipient",
    ),
]


def valid_body(office: Office, signal_id: str | None = None) -> dict:
    signal_id = signal_id or new_signal_id()
    return {
        "id": signal_id,
        "recipient_id": office.school,
        "envelopes": seal(office.recipients(), signal_id, NAME, BORN),
    }


@pytest.mark.parametrize(
    ("mutate", "status", "code"), [c[1:] for c in SEND_CASES], ids=[c[0] for c in SEND_CASES]
)
def test_send_refused(
    office: Office, mutate: Callable[[dict], None], status: int, code: str
) -> None:
    body = valid_body(office)
    mutate(body)
    before = counts(office.world)
    refused(office.sender.post("/api/signals", json=body), status, code)
    assert counts(office.world) == before


@pytest.mark.parametrize("how", ["not on the curve", "compressed prefix", "all zero"])
def test_send_refused_epk_not_a_point(office: Office, how: str) -> None:
    body = valid_body(office)
    epk = body["envelopes"][1]["envelope"]["epk"]
    body["envelopes"][1]["envelope"]["epk"] = {
        "not on the curve": point_off_curve(epk),
        "compressed prefix": b64u_encode(b"\x02" + b64u_decode(epk)[1:]),
        "all zero": b64u_encode(b"\x04" + bytes(64)),
    }[how]
    before = counts(office.world)
    refused(office.sender.post("/api/signals", json=body), 422, "bad_envelope")
    assert counts(office.world) == before


def test_send_refused_non_canonical_salt(office: Office) -> None:
    body = valid_body(office)
    salt = body["envelopes"][0]["envelope"]["salt"]
    body["envelopes"][0]["envelope"]["salt"] = noncanonical(salt)
    refused(office.sender.post("/api/signals", json=body), 422, "bad_envelope")


def test_ct_of_exactly_1024_bytes_is_accepted(office: Office) -> None:
    signal_id = new_signal_id()
    envelopes = [
        {
            "device_id": d["device_id"],
            "envelope": encrypt_envelope(
                b64u_decode(d["public_key"]), signal_id, d["device_id"], b"x" * 1008
            ),
        }
        for d in office.recipients()
    ]
    assert len(b64u_decode(envelopes[0]["envelope"]["ct"])) == 1024
    response = office.sender.post(
        "/api/signals",
        json={"id": signal_id, "recipient_id": office.school, "envelopes": envelopes},
    )
    assert response.status_code == 201, response.text


def test_reused_id_is_409_and_the_first_signal_stays(office: Office) -> None:
    signal_id = office.send()
    held = office.envelope_holders(signal_id)
    before = counts(office.world)
    again = office.sender.post("/api/signals", json=valid_body(office, signal_id))
    refused(again, 409, "id_reused")
    # Reused by another organisation, to another school: the same answer.
    api_vt = office.world.org("veilig_thuis", "Veilig Thuis Elders")
    other_sender = office.world.member("sender", api_vt)
    devices = office.recipients(office.school_b)
    refused(
        other_sender.post(
            "/api/signals",
            json={
                "id": signal_id,
                "recipient_id": office.school_b,
                "envelopes": seal(devices, signal_id, "Iemand Anders", BORN),
            },
        ),
        409,
        "id_reused",
    )
    assert counts(office.world) == before
    assert office.envelope_holders(signal_id) == held
    assert office.c1.open(signal_id)["name"] == NAME


def test_envelopes_must_cover_exactly_the_school_devices(office: Office) -> None:
    current = office.recipients()
    assert len(current) >= 2
    full = valid_body(office)
    teacher = {"device_id": office.t2.device_id, "public_key": b64u_encode(office.t2.public_key)}
    bogus = {"device_id": new_signal_id(), "public_key": current[0]["public_key"]}
    variants = {
        "missing": full["envelopes"][:1],
        "extra": full["envelopes"] + seal([bogus], full["id"], NAME, BORN),
        "teacher instead": full["envelopes"][:1] + seal([teacher], full["id"], NAME, BORN),
        "duplicated": [full["envelopes"][0], full["envelopes"][0], full["envelopes"][1]],
        "one twice, other missing": [full["envelopes"][0], full["envelopes"][0]],
    }
    before = counts(office.world)
    for name, envelopes in variants.items():
        body = refused(
            office.sender.post("/api/signals", json=full | {"envelopes": envelopes}),
            409,
            "devices_changed",
            frozenset({"devices", "org"}),
        )
        assert body["devices"] == current, name
    assert counts(office.world) == before
    assert office.sender.post("/api/signals", json=full).status_code == 201


PHONE = frozenset({"phone"})  # the number to phone instead, "" when the directory has none


def test_no_recipients_is_409_and_nothing_is_stored(office: Office) -> None:
    body = refused(
        office.sender.get(f"/api/schools/{office.empty_school}/recipients"),
        409,
        "no_recipients",
        PHONE,
    )
    assert body["phone"] == ""  # none in the directory: the message says "Bel de school."
    # A contact whose only device was revoked counts as none.
    lonely = office.world.org(name="Basisschool Een Contact")
    contact = office.world.member("contact", lonely)
    devices = office.recipients(lonely)
    assert office.admin.post(f"/api/admin/devices/{contact.device_id}/revoke").status_code == 200
    before = counts(office.world)
    for school in (office.empty_school, lonely):
        signal_id = new_signal_id()
        refused(
            office.sender.post(
                "/api/signals",
                json={
                    "id": signal_id,
                    "recipient_id": school,
                    "envelopes": seal(devices, signal_id, NAME, BORN),
                },
            ),
            409,
            "no_recipients",
            PHONE,
        )
    assert counts(office.world) == before


# --- bodies the decoder refuses --------------------------------------------------------------

RAW_CASES = [
    ("text/plain", b"{}", 415, "unsupported_media_type"),
    ("application/x-www-form-urlencoded", b"id=1", 415, "unsupported_media_type"),
    ("multipart/form-data; boundary=x", b"--x--", 415, "unsupported_media_type"),
    (None, b"{}", 415, "unsupported_media_type"),
    ("application/json", b"{", 400, "malformed_json"),
    ("application/json", b"", 400, "malformed_json"),
    ("application/json", b"{'id': 1}", 400, "malformed_json"),
    ("application/json", b'{"@": ', 400, "malformed_json"),
    ("application/json", b'{"@": "\xff\xfe"}', 400, "malformed_json"),
    ("application/json", b'{"@": "\xed\xa0\x80"}', 400, "malformed_json"),  # a UTF-8 surrogate
    ("application/json", b"\xff{}", 400, "malformed_json"),
    ("application/json", b"[]", 422, "invalid"),
    ("application/json; charset=utf-8", b'{"@": 1}', 422, "invalid"),
]


@pytest.mark.parametrize(
    ("content_type", "raw", "status", "code"),
    RAW_CASES,
    ids=[f"{c[0]}:{c[1][:12]!r}" for c in RAW_CASES],
)
def test_raw_bodies_refused(
    office: Office, content_type: str | None, raw: bytes, status: int, code: str
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    for path in ("/api/signals", f"/api/signals/{office.send()}/close"):
        before = counts(office.world)
        device = office.sender if path == "/api/signals" else office.c1
        key = b"id" if path == "/api/signals" else b"reason"  # a field of the model
        refused(device.post(path, content=raw.replace(b"@", key), headers=headers), status, code)
        assert counts(office.world) == before


def raw_http(url: str, head: str, body_parts: list[bytes], timeout: float = 5.0) -> bytes:
    """Send a request by hand, stopping the body wherever the test says; the answer's head."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        for part in body_parts:
            sock.sendall(part)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        head_end = answer.find(b"\r\n\r\n")
        status_line_and_headers = answer[:head_end]
        body = answer[head_end + 4 :]
        length = re.search(rb"content-length: (\d+)", status_line_and_headers, re.I)
        while length and len(body) < int(length.group(1)):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return answer[: head_end + 4] + body


def request_head(office: Office, path: str, extra: str) -> str:
    cookie = office.sender.credential
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-HWC: 1\r\n"
        f"Cookie: {COOKIE}={cookie}\r\nContent-Type: application/json\r\n{extra}\r\n"
    )


def assert_413(answer: bytes) -> None:
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    body = answer.split(b"\r\n\r\n", 1)[1]
    refused_body = httpx.Response(413, content=body, headers={"content-type": "application/json"})
    refused(refused_body, 413, "too_large")


def test_ten_megabytes_with_content_length_refused_unread(office: Office) -> None:
    before = counts(office.world)
    # Only 1 KiB of the announced 10 MB is ever sent: the answer cannot wait for the rest.
    answer = raw_http(
        office.world.url,
        request_head(office, "/api/signals", f"Content-Length: {10 * 1024 * 1024}\r\n"),
        [b"{" * 1024],
    )
    assert_413(answer)
    # A body just over the limit (sized for MAX_ENVELOPES envelopes), sent whole: the same.
    response = office.sender.post(
        "/api/signals",
        content=b" " * (ENVELOPES_BODY_MAX + 1),
        headers={"Content-Type": "application/json"},
    )
    refused(response, 413, "too_large")
    assert counts(office.world) == before


def test_ten_megabytes_chunked_refused_at_the_limit(office: Office) -> None:
    before = counts(office.world)
    chunk = b" " * 16384
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    # Past the limit of a "10 MB" chunked body and never the last chunk: refused at the limit.
    answer = raw_http(
        office.world.url,
        request_head(office, "/api/signals", "Transfer-Encoding: chunked\r\n"),
        [frame] * (ENVELOPES_BODY_MAX // len(chunk) + 2),
    )
    assert_413(answer)
    assert counts(office.world) == before


def test_oversized_body_refused_before_authentication(office: Office) -> None:
    answer = raw_http(
        office.world.url,
        "POST /api/signals HTTP/1.1\r\nHost: 127.0.0.1\r\nX-HWC: 1\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\n\r\n",
        [b"x" * 100],
    )
    assert_413(answer)


# --- opening ---------------------------------------------------------------------------------


def test_open_refusals_do_not_reveal_which_ids_exist(office: Office) -> None:
    signal_id = office.send()
    office.forward(signal_id, [office.t2])
    not_forwarded = office.send()
    nothing = refused(office.c1.post(f"/api/signals/{new_signal_id()}/open"), 404, "not_found")
    probes = [
        (office.cb, signal_id),
        (office.tb, signal_id),
        (office.t1a, signal_id),
        (office.t2, not_forwarded),
        (office.o1, signal_id),
        (office.c1, "abc"),
        (office.c1, "A" * 200),
    ]
    for device, probed in probes:
        response = device.post(f"/api/signals/{probed}/open")
        assert response.status_code == 404 and response.json() == nothing, (device.role, probed)
    assert office.state(signal_id) == "forwarded"
    assert office.t2.open(signal_id)["name"] == NAME
    refused(office.sender.post(f"/api/signals/{signal_id}/open"), 403, "forbidden")
    refused(office.admin.post(f"/api/signals/{signal_id}/open"), 403, "forbidden")


def test_device_enrolled_after_sending_has_no_copy(office: Office) -> None:
    signal_id = office.send()
    late = office.world.member("contact", office.school)
    refused(late.post(f"/api/signals/{signal_id}/open"), 404, "removed")
    assert office.c2.open(signal_id)["name"] == NAME
    office.admin.post(f"/api/admin/devices/{late.device_id}/revoke")


def test_revoked_device_cannot_open(office: Office) -> None:
    contact = office.world.member("contact", office.school)
    signal_id = office.send()
    assert contact.device_id in office.envelope_holders(signal_id)
    assert office.admin.post(f"/api/admin/devices/{contact.device_id}/revoke").status_code == 200
    refused(contact.post(f"/api/signals/{signal_id}/open"), 401, "not_enrolled")
    assert contact.device_id not in office.envelope_holders(signal_id)
    refused(contact.get("/api/signals"), 401, "not_enrolled")


def test_other_school_cannot_see_teachers_or_act(office: Office) -> None:
    signal_id = office.send()
    refused(office.cb.get(f"/api/schools/{office.school}/teachers"), 403, "forbidden")
    for action, body in (
        (
            "forward",
            {
                "teachers": [office.tb.person_id],
                "envelopes": seal(
                    [
                        {
                            "device_id": office.tb.device_id,
                            "public_key": b64u_encode(office.tb.public_key),
                        }
                    ],
                    signal_id,
                    NAME,
                    BORN,
                ),
            },
        ),
        ("close", {"reason": "not_our_pupil"}),
    ):
        refused(office.cb.post(f"/api/signals/{signal_id}/{action}", json=body), 404, "not_found")
    assert office.state(signal_id) == "sent"
    assert [s["id"] for s in office.cb.get("/api/signals").json()].count(signal_id) == 0


# --- one signal by id -------------------------------------------------------------------------


def test_one_signal_by_id_is_the_lists_entry_and_only_for_who_may_see_it(office: Office) -> None:
    """GET /api/signals/{id} answers exactly the caller's list entry (no content), and 404
    alike for a signal that is not theirs and one that does not exist."""
    signal_id = office.send()
    office.forward(signal_id)
    relayed = office.send(office.lp)
    assert office.relay(relayed).status_code == 200
    for viewer, seen in (
        (office.sender, signal_id),
        (office.c1, signal_id),
        (office.c2, signal_id),
        (office.t2, signal_id),
        (office.o1, relayed),
        (office.o2, relayed),
    ):
        listed = [s for s in viewer.get("/api/signals").json() if s["id"] == seen]
        answer = viewer.get(f"/api/signals/{seen}")
        assert answer.status_code == 200, answer.text
        assert answer.json() == listed[0]
        assert "envelope" not in answer.text and NAME not in answer.text
    assert office.c1.get(f"/api/signals/{signal_id}").json()["teachers"] == [
        {"name": "Meester Bram", "class_label": "groep 6", "viewed": False}
    ]
    kinds = [e["kind"] for e in office.sender.get(f"/api/signals/{signal_id}").json()["timeline"]]
    assert kinds == ["sent", "forwarded"]
    # Not theirs: another school's contact and teacher, a teacher not chosen, an office the
    # signal never went through, a made-up id; all the same 404.
    for viewer, other in (
        (office.cb, signal_id),
        (office.tb, signal_id),
        (office.t1a, signal_id),
        (office.o1, signal_id),
        (office.c1, new_signal_id()),
    ):
        refused(viewer.get(f"/api/signals/{other}"), 404, "not_found")


def test_the_list_costs_the_same_queries_for_one_signal_or_many(office: Office) -> None:
    """Timelines and chosen teachers come in the list's own query (json_group_array), not in
    a query per row: six more signals add no statement."""
    statements: list[str] = []
    conn = office.world.app.state.db.conn

    def listed(viewer: Device) -> int:
        statements.clear()
        conn.set_trace_callback(statements.append)
        try:
            assert viewer.get("/api/signals").status_code == 200
        finally:
            conn.set_trace_callback(None)
        return len(statements)

    office.forward(office.send())
    viewers = (office.sender, office.c1, office.o1)
    before = [listed(v) for v in viewers]
    for _ in range(3):
        office.forward(office.send())
        office.relay(office.send(office.lp))
    assert [listed(v) for v in viewers] == before


# --- forwarding --------------------------------------------------------------------------------


def teacher_devices_of(office: Office, *teachers: Device) -> list[dict]:
    listed = office.c1.get(f"/api/schools/{office.school}/teachers").json()
    wanted = {t.person_id for t in teachers}
    return [d for t in listed if t["person_id"] in wanted for d in t["devices"]]


def test_forward_refusals_leave_everything_as_it_was(office: Office) -> None:
    signal_id = office.send()
    held = office.envelope_holders(signal_id)
    anna = teacher_devices_of(office, office.t1a)
    assert {d["device_id"] for d in anna} == {office.t1a.device_id, office.t1b.device_id}
    bram = teacher_devices_of(office, office.t2)
    other_school = [
        {"device_id": office.tb.device_id, "public_key": b64u_encode(office.tb.public_key)}
    ]

    def forward(
        teachers: list[str],
        devices: list[dict],
        by: Device | None = None,
        tamper: Callable[[list[dict]], None] | None = None,
    ) -> httpx.Response:
        envelopes = seal(devices, signal_id, NAME, BORN)
        if tamper:
            tamper(envelopes)
        return (by or office.c1).post(
            f"/api/signals/{signal_id}/forward", json={"teachers": teachers, "envelopes": envelopes}
        )

    refused(forward([office.tb.person_id], other_school), 422, "unknown_teacher")
    refused(forward([office.t3], bram), 422, "unknown_teacher")  # no device
    refused(forward([new_signal_id()], bram), 422, "unknown_teacher")
    refused(forward([office.c2.person_id], bram), 422, "unknown_teacher")  # not a teacher
    body = refused(
        forward([office.t1a.person_id], anna[:1]),
        409,
        "devices_changed",
        frozenset({"devices", "org"}),
    )
    assert body["devices"] == anna
    body = refused(
        forward([office.t1a.person_id, office.t2.person_id], anna),
        409,
        "devices_changed",
        frozenset({"devices", "org"}),
    )
    assert body["devices"] == anna + bram or body["devices"] == bram + anna
    refused(
        forward([office.t2.person_id], bram + other_school),
        409,
        "devices_changed",
        frozenset({"devices", "org"}),
    )
    refused(
        forward([office.t2.person_id], bram + bram),
        409,
        "devices_changed",
        frozenset({"devices", "org"}),
    )

    def version_two(envelopes: list[dict]) -> None:
        envelopes[0]["envelope"]["v"] = 2

    refused(forward([office.t2.person_id], bram, tamper=version_two), 422, "bad_envelope")
    refused(forward([office.t2.person_id], bram, by=office.t2), 403, "forbidden")
    refused(forward([office.t2.person_id], bram, by=office.cb), 404, "not_found")
    refused(
        office.c1.post(f"/api/signals/{signal_id}/forward", json={"teachers": []}), 422, "invalid"
    )
    refused(
        office.c1.post(
            f"/api/signals/{signal_id}/forward",
            json={
                "teachers": [office.t2.person_id] * 5,
                "envelopes": seal(bram, signal_id, NAME, BORN),
            },
        ),
        422,
        "invalid",
    )

    assert office.state(signal_id) == "sent"
    assert office.envelope_holders(signal_id) == held
    assert (
        office.world.db.execute(
            "SELECT count(*) FROM signal_teachers WHERE signal_id = ?", [signal_id]
        ).fetchone()[0]
        == 0
    )
    # And then it works; a second forward is a conflict with the current state.
    assert forward([office.t1a.person_id], anna).status_code == 200
    body = refused(
        forward([office.t2.person_id], bram, by=office.c2),
        409,
        "already_handled",
        frozenset({"state"}),
    )
    assert body["state"] == "forwarded"
    assert office.envelope_holders(signal_id) == {
        office.c1.device_id,
        office.t1a.device_id,
        office.t1b.device_id,
    }


# --- closing, per role and state --------------------------------------------------------------


def setup_state(office: Office, state: str) -> str:
    if state.startswith("lp_") or state == "relayed":
        signal_id = office.send(office.lp)
        if state == "lp_opened":
            office.o1.open(signal_id)
        if state == "relayed":
            assert office.relay(signal_id).status_code == 200
        return signal_id
    signal_id = office.send()
    if state == "opened":
        office.c1.open(signal_id)
    if state in ("forwarded", "viewed", "done"):
        office.forward(signal_id)
    if state in ("viewed", "done"):
        office.t2.open(signal_id)
    if state == "done":
        assert (
            office.c1.post(f"/api/signals/{signal_id}/close", json={"reason": "done"}).status_code
            == 200
        )
    if state == "closed":
        assert (
            office.c1.post(
                f"/api/signals/{signal_id}/close", json={"reason": "told_in_person"}
            ).status_code
            == 200
        )
    return signal_id


CLOSE_CASES = [
    # (state, who, reason, status, error code, state after)
    ("sent", "c1", "told_in_person", 200, None, "closed"),
    ("sent", "c2", "not_our_pupil", 200, None, "closed"),
    ("opened", "c2", "told_in_person", 200, None, "closed"),
    ("opened", "c1", "not_our_pupil", 200, None, "closed"),
    ("sent", "c1", "done", 409, "already_handled", "sent"),
    ("opened", "c1", "done", 409, "already_handled", "opened"),
    ("forwarded", "c1", "done", 200, None, "done"),
    ("forwarded", "c2", "done", 200, None, "done"),
    ("viewed", "c1", "done", 200, None, "done"),
    ("forwarded", "c1", "told_in_person", 409, "already_handled", "forwarded"),
    ("viewed", "c2", "not_our_pupil", 409, "already_handled", "viewed"),
    ("closed", "c2", "told_in_person", 409, "already_handled", "closed"),
    ("closed", "c1", "done", 409, "already_handled", "closed"),
    ("done", "c1", "done", 409, "already_handled", "done"),
    ("sent", "c1", "not_in_municipality", 403, "forbidden", "sent"),
    ("sent", "cb", "not_our_pupil", 404, "not_found", "sent"),
    ("forwarded", "t2", "done", 403, "forbidden", "forwarded"),
    ("sent", "sender", "told_in_person", 403, "forbidden", "sent"),
    ("sent", "admin", "told_in_person", 403, "forbidden", "sent"),
    ("lp_sent", "o1", "not_in_municipality", 200, None, "closed"),
    ("lp_opened", "o2", "not_in_municipality", 200, None, "closed"),
    ("lp_sent", "o1", "told_in_person", 403, "forbidden", "sent"),
    ("lp_sent", "c1", "told_in_person", 404, "not_found", "sent"),
    ("relayed", "c1", "told_in_person", 200, None, "closed"),
    ("relayed", "o1", "not_in_municipality", 403, "forbidden", "relayed"),
]


@pytest.mark.parametrize(
    ("state", "who", "reason", "status", "code", "after"),
    CLOSE_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CLOSE_CASES],
)
def test_close(
    office: Office, state: str, who: str, reason: str, status: int, code: str | None, after: str
) -> None:
    signal_id = setup_state(office, state)
    held = office.envelope_holders(signal_id)
    response = getattr(office, who).post(f"/api/signals/{signal_id}/close", json={"reason": reason})
    if code is None:
        assert response.status_code == status == 200, response.text
        assert response.json() == {"state": after}
        assert office.envelope_holders(signal_id) == set()  # every copy goes at once
        row = office.world.db.execute(
            "SELECT close_reason, ended_at FROM signals WHERE id = ?", [signal_id]
        ).fetchone()
        assert row[0] == reason and row[1] is not None
        timeline = office.sender.get("/api/signals").json()
        kinds = [e for s in timeline if s["id"] == signal_id for e in s["timeline"]]
        assert kinds[-1]["kind"] == after and kinds[-1]["detail"] == reason
    else:
        body = refused(response, status, code, frozenset({"state"}))
        if status == 409:
            assert body["state"] == after
        assert office.envelope_holders(signal_id) == held
    assert office.state(signal_id) == after


def test_close_with_an_unknown_reason(office: Office) -> None:
    signal_id = office.send()
    for body in ({"reason": "whatever"}, {}, {"reason": "done", "note": "x"}):
        refused(office.c1.post(f"/api/signals/{signal_id}/close", json=body), 422, "invalid")
    refused(
        office.c1.post(f"/api/signals/{new_signal_id()}/close", json={"reason": "told_in_person"}),
        404,
        "not_found",
    )
    assert office.state(signal_id) == "sent"


# --- the teacher's copy --------------------------------------------------------------------------

OPENED_ELSEWHERE = frozenset({"opened_on", "opened_at"})  # the teacher's device that opened it


def test_teacher_done_deletes_now(office: Office) -> None:
    signal_id = office.send()
    office.forward(signal_id, [office.t1a])
    assert office.t1a.open(signal_id)["birth_date"] == BORN
    assert office.state(signal_id) == "viewed"
    response = office.t1a.post(f"/api/signals/{signal_id}/done")
    assert response.status_code == 200 and response.json() == {"state": "viewed"}
    refused(office.t1a.post(f"/api/signals/{signal_id}/open"), 404, "removed")
    elsewhere = refused(
        office.t1b.post(f"/api/signals/{signal_id}/open"), 404, "opened_elsewhere", OPENED_ELSEWHERE
    )
    assert elsewhere["opened_on"] == "telefoon teacher" and elsewhere["opened_at"]
    # Only the forwarding contact's own copy is left, until they finish.
    assert office.envelope_holders(signal_id) == {office.c1.device_id}
    refused(office.t2.post(f"/api/signals/{signal_id}/done"), 404, "not_found")
    refused(office.c1.post(f"/api/signals/{signal_id}/done"), 403, "forbidden")
    assert (
        office.c1.post(f"/api/signals/{signal_id}/close", json={"reason": "done"}).status_code
        == 200
    )
    assert office.envelope_holders(signal_id) == set()


def test_duo_is_viewed_when_both_teachers_opened(office: Office) -> None:
    signal_id = office.send()
    office.forward(signal_id, [office.t1a, office.t2])
    office.t2.open(signal_id)
    assert office.state(signal_id) == "forwarded"
    office.t1b.open(signal_id)
    assert office.state(signal_id) == "viewed"
    kinds = [
        e["kind"]
        for s in office.sender.get("/api/signals").json()
        if s["id"] == signal_id
        for e in s["timeline"]
    ]
    assert kinds == ["sent", "forwarded", "teacher_viewed", "teacher_viewed", "viewed"]


def test_teacher_copy_one_device_then_grace_then_gone(db_path: Path) -> None:
    start = datetime(2025, 9, 16, 5, 30, tzinfo=UTC).timestamp()  # a Tuesday, 07:30 local
    clock = FrozenClock(start)
    with live_world(db_path, clock=clock) as world:
        school = world.org()
        sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis"))
        contact = world.member("contact", school)
        phone = world.member("teacher", school, class_label="groep 7")
        laptop = world.device(phone.person_id)
        signal_id = world.send(sender, school, NAME, BORN).json()["id"]
        forwarded = world.forward(contact, signal_id, school, [phone.person_id], NAME, BORN)
        assert forwarded.status_code == 200, forwarded.text
        grace = world.app.state.timing.view_grace
        assert grace == 600

        first = phone.post(f"/api/signals/{signal_id}/open")
        assert first.status_code == 200
        assert first.json()["delete_at"] == pytest.approx(start + grace)
        refused(
            laptop.post(f"/api/signals/{signal_id}/open"), 404, "opened_elsewhere", OPENED_ELSEWHERE
        )
        held = {
            r[0]
            for r in world.db.execute(
                "SELECT device_id FROM envelopes WHERE signal_id = ? AND role = 'teacher'",
                [signal_id],
            ).fetchall()
        }
        assert held == {phone.device_id}

        def has_copy(device: Device) -> bool:
            listed = [s for s in device.get("/api/signals").json() if s["id"] == signal_id]
            assert len(listed) == 1
            return bool(listed[0]["has_copy"])

        assert has_copy(phone) and not has_copy(laptop)
        clock.advance(grace - 1)  # a reload just within the grace period
        assert phone.open(signal_id) == {"name": NAME, "birth_date": BORN}
        assert has_copy(phone)
        clock.advance(2)
        refused(phone.post(f"/api/signals/{signal_id}/open"), 404, "removed")
        assert not has_copy(phone)
        status = [s for s in sender.get("/api/signals").json() if s["id"] == signal_id][0]
        assert status["state"] == "viewed"


# --- a link-preview bot changes nothing ---------------------------------------------------------


def table_dump(world: World) -> dict[str, list[tuple]]:
    dump = {}
    for (table,) in world.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    ).fetchall():
        columns = [
            c[1]
            for c in world.db.execute(f"PRAGMA table_info({table})").fetchall()
            if not (table == "devices" and c[1] == "last_seen_at")
        ]
        rows = world.db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
        dump[table] = sorted(tuple(r) for r in rows)
    return dump


def test_get_requests_change_nothing(world: World) -> None:
    school = world.org()
    admin = world.member("admin", None)
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis"))
    contact = world.member("contact", school)
    teacher = world.member("teacher", school)
    unopened = world.send(sender, school, NAME, BORN).json()["id"]
    forwarded = world.send(sender, school, NAME, BORN).json()["id"]
    assert (
        world.forward(contact, forwarded, school, [teacher.person_id], NAME, BORN).status_code
        == 200
    )
    person = world.person("teacher", school)
    bot = world.client({"User-Agent": "Slackbot-LinkExpanding 1.0", "X-HWC": ""})
    reads = [
        "/api/signals",
        "/api/me",
        "/api/schools?q=Regenboog",
        "/api/push/key",
        f"/api/schools/{school}/recipients",
        f"/api/schools/{school}/teachers",
        "/",
        f"/signaal/{unopened}",
        f"/signaal/{forwarded}",
        "/aanmelden",
        "/api/openapi.json",
        "/toegankelijkheid",
        "/healthz",
        "/admin",
    ]
    post_only = [
        f"/api/signals/{sid}/{action}"
        for sid in (unopened, forwarded)
        for action in ("open", "forward", "relay", "close", "done")
    ]
    post_only += [
        "/api/enrol",
        "/api/me/key-lost",
        "/api/admin/orgs",
        "/api/admin/people",
        f"/api/admin/people/{person}/enrol-link",
        f"/api/admin/people/{person}/revoke",
        f"/api/admin/devices/{teacher.device_id}/revoke",
        "/api/admin/api-keys",
        "/api/admin/schools/import",
    ]
    before = table_dump(world)
    for client in (bot, admin.http, sender.http, contact.http, teacher.http):
        for path in reads:
            response = client.get(path)
            assert response.status_code < 500, (path, response.status_code)
            assert NAME not in response.text
        for path in post_only:
            for method in ("GET", "HEAD"):
                response = client.request(method, path)
                assert response.status_code == 405, (method, path, response.status_code)
                assert "POST" in response.headers["allow"]
                if method == "GET":
                    refused(response, 405, "method_not_allowed")
    assert table_dump(world) == before
    # The unopened copies are intact and still open (once) for the right devices.
    assert contact.open(unopened)["name"] == NAME
    assert teacher.open(forwarded)["name"] == NAME


# --- the Python client of `hwc send` --------------------------------------------------------------

TODAY = date(2025, 9, 16)


@pytest.mark.parametrize(
    ("name", "born"),
    [
        ("Zoë", "2015-03-01"),
        ("Ömer", "2015-03-01"),
        ("de Vries-Ƙ", "2015-03-01"),
        ("Jan-Willem van 't Hof", "2012-01-31"),
        ("Anne-Marie O\u2019Neill", "2012-01-31"),
        ("  Zoë  ", "2015-03-01"),
        ("A" * 100, "2015-03-01"),
        ("Zoë", "2023-09-16"),
        ("Zoë", "2003-09-17"),  # exactly 2, and 21 the day before 22
    ],
)
def test_check_child_accepts(name: str, born: str) -> None:
    assert check_child(name, born, TODAY) is None


@pytest.mark.parametrize(
    ("name", "born"),
    [
        ("Jan2", "2015-03-01"),
        ("", "2015-03-01"),
        ("   ", "2015-03-01"),
        ("A" * 101, "2015-03-01"),
        ("Zoë 😀", "2015-03-01"),
        ("😀", "2015-03-01"),
        ("Zoë_de_Wit", "2015-03-01"),
        ("Zoë <script>", "2015-03-01"),
        ("1234", "2015-03-01"),
        ("Zoë", "2023-09-17"),
        ("Zoë", "2025-01-01"),
        ("Zoë", "2003-09-16"),
        ("Zoë", "1990-01-01"),
        ("Zoë", "2015-02-30"),
        ("Zoë", "01-03-2015"),
        ("Zoë", ""),
        ("Zoë", "2035-01-01"),
    ],
)
def test_check_child_refuses_in_dutch(name: str, born: str) -> None:
    problem = check_child(name, born, TODAY)
    assert problem is not None
    assert_dutch(problem)


def test_python_client_sends_and_reports(world: World) -> None:
    school = world.org(name="Basisschool De Regenboog", code="12AB00")
    vt = world.org("veilig_thuis", "Veilig Thuis Utrecht")
    admin = world.member("admin", None)
    contacts = [world.member("contact", school), world.member("contact", school)]
    made = admin.post("/api/admin/api-keys", json={"org_id": vt, "label": "zaaksysteem"})
    assert made.status_code == 201, made.text
    key = made.json()["api_key"]
    assert key.startswith("hwc_")
    stored = [r[0] for r in world.db.execute("SELECT key_hash FROM api_keys").fetchall()]
    assert all(key.encode() not in bytes(h) for h in stored) and len(stored) == 1

    client = Client(world.url, key)
    name = "Zoë de Vries-Ƙ"
    result = client.send("12ab00", name, "2014-10-02")
    assert re.fullmatch(r"HWC-[2-9A-HJ-NP-Z]{4}", result["ref"])
    for contact in contacts:
        assert contact.open(result["id"]) == {"name": name, "birth_date": "2014-10-02"}
    status = client.status(result["ref"].lower())
    assert status["state"] == "opened"
    assert [e["kind"] for e in status["timeline"]] == ["sent", "opened"]
    assert status["school"] == "Basisschool De Regenboog"
    assert name not in str(status)
    with pytest.raises(ClientError, match="Geen school gevonden"):
        client.send("99ZZ99", name, "2014-10-02")
    with pytest.raises(ClientError, match="Geen signaal met kenmerk"):
        client.status("HWC-2222")
    stranger = Client(world.url, key[:-4] + "AAAA")
    with pytest.raises(ClientError, match=r"niet \(meer\) aangemeld.*\(401\)"):
        stranger.status(result["ref"])
    with pytest.raises(ClientError, match="https://"):
        Client("file:///etc/passwd", key)


HWC_SEND = [sys.executable, "-m", "server.cli", "send"]


def _hwc_env(world: World, key: str) -> dict[str, str]:
    """`hwc send` as a case system runs it: a process of its own, key and URL in its env."""
    state = Path(world.app.state.settings.database).with_name("hwc-send-state.json")
    return {
        **os.environ,
        "HWC_URL": world.url,
        "HWC_API_KEY": key,
        "HWC_STATE": str(state),  # its key log heads, of this test's server only
        "PYTHONPATH": str(ROOT),
    }


def _hwc_send(world: World, key: str, *args: str, text_in: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HWC_SEND, *args],
        input=text_in,
        capture_output=True,
        text=True,
        env=_hwc_env(world, key),
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_hwc_send_reads_the_child_from_stdin_or_a_prompt_never_from_arguments(world: World) -> None:
    school = world.org(code="34CD00")
    contact = world.member("contact", school)
    admin = world.member("admin", None)
    vt = world.org("veilig_thuis", "Veilig Thuis Zeist")
    key = admin.post("/api/admin/api-keys", json={"org_id": vt, "label": "cms"}).json()["api_key"]
    name, born = "Ilse-Marije ten Brink", "2014-10-02"

    # Arguments are no way in: argparse refuses them, and nothing is sent.
    refused = _hwc_send(
        world, key, "--school", "34CD00", "--name", name, "--birth-date", born, text_in=""
    )
    assert refused.returncode == 2 and "unrecognized arguments" in refused.stderr
    assert contact.get("/api/signals").json() == []

    # From a pipe: the first two lines.
    piped = _hwc_send(world, key, "--school", "34CD00", text_in=f"{name}\n{born}\n")
    assert piped.returncode == 0, piped.stderr
    ref = re.search(r"Kenmerk: (HWC-\w{4})", piped.stdout)
    assert ref and name not in piped.stdout + piped.stderr
    [signal] = contact.get("/api/signals").json()
    assert contact.open(signal["id"]) == {"name": name, "birth_date": born}

    # On a terminal: a prompt for each (on stderr), the answers typed in.
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [*HWC_SEND, "--school", "34cd00"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=_hwc_env(world, key),
        )
        os.write(controller, f"{name}\n{born}\n".encode())
        out, err = process.communicate(timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    assert process.returncode == 0, err
    assert "Naam van het kind" in err and "Geboortedatum" in err and "Kenmerk: HWC-" in out
    assert len(contact.get("/api/signals").json()) == 2

    # What the app would refuse is refused before anything is encrypted or sent.
    bad = _hwc_send(world, key, "--school", "34CD00", text_in=f"{name}\n")
    assert bad.returncode == 2 and "geboortedatum" in bad.stderr.lower()
    assert len(contact.get("/api/signals").json()) == 2
