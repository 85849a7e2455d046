"""The key log on the server (issue 19), through real HTTP: the public log and heads, pending
devices and approval, reset, a person's own devices, security events, the genesis prefix, and
the attacks of the issue on the server side: (a) an admin's link beside a working phone,
(b) a reset, (c) a device written straight into the database, (d) a forked log shown to
`hwc send`."""

from __future__ import annotations

import io
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import auth, keylog, orglog
from server.audit import audit
from server.cli import main as hwc
from server.client import Client, TrustError
from server.clientstate import ClientState
from server.clientstate import load as load_state
from server.envelope import (
    SignatureInvalid,
    b64u_encode,
    decode_content,
    decrypt_envelope,
    generate_device_key,
    public_key_raw,
    verify_signature,
)
from tests.support import Device, World

NAME, BORN = "Fleur de Boer", "2016-04-04"


@pytest.fixture
def school(world: World) -> dict[str, Any]:
    school_id = world.org(name="Basisschool Het Anker")
    code = world.db.execute("SELECT code FROM orgs WHERE id = ?", [school_id]).fetchone()[0]
    vt = world.org("veilig_thuis", "Veilig Thuis Test")
    return {
        "id": school_id,
        "code": code,
        "vt": vt,
        "admin": world.member("admin", None),
        "contact": world.member("contact", school_id),
        "sender": world.member("sender", vt),
    }


def log_of(world: World, org_id: str) -> dict[str, Any]:
    response = world.client().get(f"/api/orgs/{org_id}/log")
    assert response.status_code == 200, response.text
    return dict(response.json())


def verified(world: World, org_id: str) -> keylog.State:
    key = world.client().get("/api/log/key").json()["key"]
    log = log_of(world, org_id)
    return keylog.verify_log(key, org_id, log["entries"], log["head"])


def recipient_ids(world: World, sender: Device, org_id: str) -> set[str]:
    answer = sender.get(f"/api/schools/{org_id}/recipients").json()
    assert answer["org"] == org_id
    return {d["device_id"] for d in answer["devices"]}


def api_key(world: World, school: dict[str, Any]) -> str:
    response = school["admin"].post(
        "/api/admin/api-keys", json={"org_id": school["vt"], "label": "zaaksysteem"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


# --- the public log ----------------------------------------------------------------------


def test_the_log_is_public_valid_and_names_no_one(world: World, school: dict[str, Any]) -> None:
    state = verified(world, school["id"])
    contact = school["contact"]
    assert [d["id"] for d in keylog.recipients(state, ["contact"])] == [contact.device_id]
    assert state.devices[contact.device_id].sig_key == contact.sig_key
    response = world.client().get(f"/api/orgs/{school['id']}/log")
    assert response.headers["cache-control"] == "no-store"
    text = response.text
    assert "Basisschool" not in text and "telefoon" not in text  # no names, no labels
    heads = world.client().get("/api/log/heads").json()
    key = world.client().get("/api/log/key").json()["key"]
    mine = [h for h in heads if h["org"] == school["id"]]
    assert mine == [response.json()["head"]]
    assert keylog.check_head(key, mine[0], school["id"])["size"] == state.size
    assert world.client().get("/api/orgs/nope/log").status_code == 404


def test_the_log_route_is_rate_limited(world: World, school: dict[str, Any]) -> None:
    client = world.client()
    statuses = [client.get(f"/api/orgs/{school['id']}/log").status_code for _ in range(70)]
    assert statuses[:60] == [200] * 60 and statuses[-1] == 429


def test_enrolled_devices_behind_one_address_are_counted_each_on_their_own(
    world: World, school: dict[str, Any]
) -> None:
    """A school's phones share one address: one busy phone does not hold up its colleague,
    while anonymous callers (and a bad credential) are still counted by that address."""
    path = f"/api/orgs/{school['id']}/log"
    busy, colleague = school["contact"], world.member("teacher", school["id"])
    statuses = [busy.get(path).status_code for _ in range(70)]
    assert statuses[:60] == [200] * 60 and statuses[-1] == 429
    assert colleague.get(path).status_code == 200
    anonymous = [world.client().get(path).status_code for _ in range(70)]
    assert anonymous[:60] == [200] * 60 and anonymous[-1] == 429
    forged = {"Cookie": "__Host-hwc=not-a-credential"}
    assert world.client().get(path, headers=forged).status_code == 429
    assert colleague.get(path).status_code == 200


def test_every_change_is_in_the_log_and_the_devices_agree(
    world: World, school: dict[str, Any]
) -> None:
    admin, contact = school["admin"], school["contact"]
    teacher = world.member("teacher", school["id"])
    assert admin.post(f"/api/admin/devices/{teacher.device_id}/revoke").status_code == 200
    assert admin.post(f"/api/admin/people/{contact.person_id}/revoke").status_code == 200
    kinds = [e["kind"] for e in log_of(world, school["id"])["entries"]]
    assert kinds[-2:] == ["device_revoked", "person_revoked"]
    entries = log_of(world, school["id"])["entries"]
    assert entries[-1]["by"] == f"admin:{admin.person_id}"
    assert verified(world, school["id"]).size == len(entries)
    assert orglog.table_devices(world.db, school["id"]) == orglog.log_devices(
        orglog.state(world.db, school["id"])
    )


def test_existing_data_gets_a_genesis_prefix(world: World, school: dict[str, Any]) -> None:
    """A database from before the key log: the log is rebuilt by "server" at the next start,
    a device without a signing key entering as `migrated` with sig_key ""."""
    db = world.db
    db.execute("UPDATE devices SET sig_key = NULL")
    db.execute("DELETE FROM keylog")
    db.execute("DELETE FROM meta WHERE key = ?", [orglog.GENESIS_DONE])
    assert orglog.ensure_genesis(db, world.now()) > 0
    assert orglog.ensure_genesis(db, world.now()) == 0  # once
    state = verified(world, school["id"])
    assert state.genesis
    entries = log_of(world, school["id"])["entries"]
    assert {e["by"] for e in entries} == {"server"}
    assert {e.get("how") for e in entries if e["kind"] == "device_added"} == {"migrated"}
    assert state.devices[school["contact"].device_id].sig_key == ""


# --- pending devices: attack (a) ----------------------------------------------------------


def test_a_an_admin_link_beside_a_working_phone_gets_nothing_until_approved(
    world: World, school: dict[str, Any]
) -> None:
    contact, sender, admin = school["contact"], school["sender"], school["admin"]
    link = admin.post(f"/api/admin/people/{contact.person_id}/enrol-link")
    token = link.json()["link"].split("#", 1)[1]
    intruder = world.enrol(contact.person_id, token=token)
    assert intruder.pending
    me = intruder.get("/api/me").json()
    code = keylog.comparison_code(b64u_encode(intruder.public_key), intruder.sig_key)
    assert me == {"pending": True, "code": code, "device": me["device"]}
    assert intruder.get("/api/signals").status_code == 401  # no rights at all
    assert recipient_ids(world, sender, school["id"]) == {contact.device_id}
    sent = world.send(sender, school["id"], NAME, BORN)
    assert sent.status_code == 201
    assert intruder.post(f"/api/signals/{sent.json()['id']}/open").status_code == 401
    pending = contact.get("/api/me/pending").json()
    assert [(p["id"], p["code"]) for p in pending] == [(intruder.device_id, code)]
    # The server checks the approval signature too: one by the intruder's own key fails.
    statement = keylog.approval_statement(
        school["id"], contact.person_id, intruder.device_id,
        b64u_encode(intruder.public_key), intruder.sig_key,
    )  # fmt: skip
    forged = keylog.sign(intruder.sig_private, statement)
    refused = contact.post(
        f"/api/me/devices/{intruder.device_id}/approve", json={"approval": forged}
    )
    assert refused.status_code == 422 and refused.json()["error"] == "bad_approval"
    assert contact.post(f"/api/me/devices/{intruder.device_id}/decline").status_code == 200
    dead = intruder.get("/api/me")
    assert dead.status_code == 401 and "niet goedgekeurd" in dead.json()["message"]
    assert recipient_ids(world, sender, school["id"]) == {contact.device_id}
    assert intruder.device_id not in verified(world, school["id"]).devices


def test_an_approved_device_receives_and_its_approval_is_in_the_log(
    world: World, school: dict[str, Any]
) -> None:
    contact, sender = school["contact"], school["sender"]
    tablet = world.enrol(contact.person_id)
    assert contact.approve(tablet, school["id"]).status_code == 200
    assert tablet.get("/api/me").json()["pending"] is False
    assert recipient_ids(world, sender, school["id"]) == {contact.device_id, tablet.device_id}
    last = log_of(world, school["id"])["entries"][-1]
    assert (last["how"], last["approver"], last["by"]) == (
        "approved",
        contact.device_id,
        f"device:{contact.device_id}",
    )
    sent = world.send(sender, school["id"], NAME, BORN)
    assert tablet.open(sent.json()["id"]) == {"name": NAME, "birth_date": BORN}


def test_two_pending_devices_are_refused_together(world: World, school: dict[str, Any]) -> None:
    contact = school["contact"]
    first = world.enrol(contact.person_id)
    _, public = generate_device_key()
    response = world.client().post(
        "/api/enrol",
        json={
            "token": world.enrol_link_token(contact.person_id),
            "public_key": b64u_encode(public),
            "sig_key": b64u_encode(generate_device_key()[1]),
            "label": "nog een",
        },
    )
    assert response.status_code == 409 and response.json()["error"] == "two_pending"
    assert contact.get("/api/me/pending").json() == []
    assert first.get("/api/me").status_code == 401


def test_own_enrol_link_and_blocking_a_sibling(world: World, school: dict[str, Any]) -> None:
    contact = school["contact"]
    link = contact.post("/api/me/enrol-link")
    assert link.status_code == 201
    laptop = world.device(contact.person_id, token=link.json()["link"].split("#", 1)[1])
    assert contact.post(f"/api/me/devices/{laptop.device_id}/revoke").status_code == 200
    assert laptop.get("/api/me").status_code == 401
    last = log_of(world, school["id"])["entries"][-1]
    assert (last["kind"], last["by"]) == ("device_revoked", f"device:{contact.device_id}")
    other = world.member("contact", school["id"])
    refused = contact.post(f"/api/me/devices/{other.device_id}/revoke")
    assert refused.status_code == 404


# --- reset: attack (b) --------------------------------------------------------------------


def test_b_a_reset_stops_the_old_phone_and_says_why(world: World, school: dict[str, Any]) -> None:
    contact, admin, sender = school["contact"], school["admin"], school["sender"]
    teacher = world.member("teacher", school["id"])
    reset = contact.post(f"/api/admin/people/{teacher.person_id}/reset")  # contact for teacher
    assert reset.status_code == 201, reset.text
    old = teacher.get("/api/signals")
    assert old.status_code == 401
    assert "opnieuw ingesteld" in old.json()["message"]
    new_phone = world.device(teacher.person_id, token=reset.json()["link"].split("#", 1)[1])
    assert not new_phone.pending  # a first device again
    entries = log_of(world, school["id"])["entries"]
    assert [e["kind"] for e in entries[-2:]] == ["person_reset", "device_added"]
    assert (entries[-1]["how"], entries[-1]["by"]) == ("contact", f"person:{contact.person_id}")
    again = admin.post(f"/api/admin/people/{school['contact'].person_id}/reset")
    assert again.status_code == 201
    assert recipient_ids_or_none(sender, school["id"]) == set()


def test_a_bad_signature_is_a_security_event_of_the_claimed_sender(
    world: World, school: dict[str, Any]
) -> None:
    """docs/envelope.md: the recipient reports a signature that does not verify, naming the
    organisation the envelope claims as its sender, without personal data."""
    contact, admin = school["contact"], school["admin"]
    body = {"kind": "bad_signature", "org": school["vt"]}
    assert contact.post("/api/security-events", json=body).status_code == 201
    events = admin.get("/api/admin/security-events").json()
    assert [(e["kind"], e["org_id"], e["reporter_org_id"]) for e in events] == [
        ("bad_signature", school["vt"], school["id"])
    ]


def recipient_ids_or_none(sender: Device, org_id: str) -> set[str]:
    response = sender.get(f"/api/schools/{org_id}/recipients")
    return set() if response.status_code == 409 else {d["device_id"] for d in response.json()}


# --- security events ----------------------------------------------------------------------


def test_security_events_reach_the_admins(world: World, school: dict[str, Any]) -> None:
    sender, admin = school["sender"], school["admin"]
    body = {"kind": "log_fork", "org": school["id"]}
    assert sender.post("/api/security-events", json=body).status_code == 201
    assert sender.post("/api/security-events", json=body | {"name": NAME}).status_code == 422
    assert sender.get("/api/admin/security-events").status_code == 403
    events = admin.get("/api/admin/security-events").json()
    assert [(e["kind"], e["org_id"], e["reporter_org_id"]) for e in events] == [
        ("log_fork", school["id"], school["vt"])
    ]


# --- hwc send -----------------------------------------------------------------------------


def send_with(
    world: World,
    school: dict[str, Any],
    state: ClientState,
    url: str | None = None,
    sign_as: str | None = None,
) -> dict:
    client = Client(url or world.url, api_key(world, school), state=state, sign_as=sign_as)
    return client.send(school["code"], NAME, BORN)


def test_hwc_send_verifies_and_binds_the_head(
    world: World, school: dict[str, Any], tmp_path: Path
) -> None:
    state = load_state(tmp_path / "state.json")
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600
    send_with(world, school, state)
    signal_id = world.db.execute("SELECT id FROM signals").fetchone()[0]
    envelope = json.loads(world.db.execute("SELECT envelope FROM envelopes").fetchone()[0])
    head = verified(world, school["id"]).head()
    assert envelope["v"] == 2 and envelope["head"] == head
    assert load_state(tmp_path / "state.json").remembered(world.url, school["id"]) == (
        head["size"],
        head["hash"],
    )
    contact = school["contact"]
    opened = contact.post(f"/api/signals/{signal_id}/open").json()["envelope"]
    plain = decrypt_envelope(contact.private_key, signal_id, contact.device_id, opened)
    assert decode_content(plain) == {"name": NAME, "birth_date": BORN}


def test_hwc_send_sign_as_signs_version_3(
    world: World, school: dict[str, Any], tmp_path: Path
) -> None:
    """docs/envelope.md: with --sign-as the server accepts version 3 and stores it as sent; the
    contact's device verifies it under the system's key and opens it."""
    state = load_state(tmp_path / "state.json")
    send_with(world, school, state, sign_as=school["vt"])
    signal_id = world.db.execute("SELECT id FROM signals").fetchone()[0]
    contact = school["contact"]
    opened = contact.post(f"/api/signals/{signal_id}/open").json()["envelope"]
    assert opened["v"] == 3 and opened["signer"] == {
        "org": school["vt"],
        "device": state.signer_device,
    }
    assert opened["head"] == verified(world, school["id"]).head()
    sig_key = b64u_encode(public_key_raw(state.signing_key))
    sender = verify_signature(opened, signal_id, contact.device_id, sig_key)
    assert sender == {"signer_org": school["vt"], "signer_device": state.signer_device}
    with pytest.raises(SignatureInvalid):  # another system's key: not this signer
        verify_signature(
            opened, signal_id, contact.device_id, keylog.public_b64u(generate_device_key()[0])
        )
    plain = decrypt_envelope(contact.private_key, signal_id, contact.device_id, opened)
    assert decode_content(plain) == {"name": NAME, "birth_date": BORN}


def test_c_a_device_written_into_the_database_makes_hwc_send_refuse(
    world: World, school: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact = school["contact"]
    _, public = generate_device_key()
    world.db.execute(  # a compromised server adds a device beside the contact's phone
        "INSERT INTO devices (id, person_id, label, public_key, credential_hash, created_at) "
        "VALUES (?, ?, 'telefoon', ?, ?, ?)",
        ["injected", contact.person_id, public, secrets.token_bytes(32), world.now()],
    )
    assert "injected" in recipient_ids(world, school["sender"], school["id"])
    monkeypatch.setenv("HWC_URL", world.url)
    monkeypatch.setenv("HWC_API_KEY", api_key(world, school))
    monkeypatch.setenv("HWC_STATE", str(tmp_path / "state.json"))
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{NAME}\n{BORN}\n"))
    errors = io.StringIO()
    monkeypatch.setattr("sys.stderr", errors)
    assert hwc(["send", "--school", school["code"]]) == 3
    assert "NIET verstuurd" in errors.getvalue() and "Bel de school" in errors.getvalue()
    assert world.db.execute("SELECT count(*) FROM signals").fetchone()[0] == 0
    events = school["admin"].get("/api/admin/security-events").json()
    assert [(e["kind"], e["org_id"]) for e in events] == [("recipients_mismatch", school["id"])]


@contextmanager
def log_swapping_proxy(upstream: str, fake: dict[str, Any]) -> Iterator[str]:
    """A server that answers as `upstream` does, but shows `fake["log"]` as its org's log."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            self._relay()

        def do_POST(self) -> None:  # noqa: N802
            self._relay()

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if "log" in fake and self.path == f"/api/orgs/{fake['log']['org']}/log":
                status, content = 200, json.dumps(fake["log"]).encode()
            else:
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = httpx.request(
                    self.command, upstream + self.path, content=body, headers=headers
                )
                status, content = answer.status_code, answer.content
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def forked_log(world: World, org_id: str, intruder: dict[str, Any]) -> dict[str, Any]:
    """The org's log with its last entry (the contact's phone) replaced by an intruder's device,
    and a head the server's own log key signs: valid in itself, but a fork."""
    entries = log_of(world, org_id)["entries"][:-1]
    state = keylog.derive(org_id, entries)
    person = next(p for p, v in state.people.items() if v["role"] == "contact")
    entry = {
        "org": org_id,
        "seq": state.size,
        "prev": state.hash,
        "at": state.at,
        "kind": "device_added",
        "by": "server",
        "how": "link",
        "person": person,
        "device": "intruder",
    } | intruder
    keylog.derive(org_id, [*entries, entry])  # valid as a log on its own
    head = keylog.sign_head(world.app.state.log_key, keylog.chain_head(org_id, [*entries, entry]))
    return {"org": org_id, "entries": [*entries, entry], "head": head}


def test_d_a_forked_log_is_refused_by_hwc_send_that_remembered_a_head(
    world: World, school: dict[str, Any], tmp_path: Path
) -> None:
    state = load_state(tmp_path / "state.json")
    intruder_enc, intruder_sig = generate_device_key()[1], generate_device_key()[1]
    keys = {"enc_key": b64u_encode(intruder_enc), "sig_key": b64u_encode(intruder_sig)}
    fake: dict[str, Any] = {}
    with log_swapping_proxy(world.url, fake) as url:
        send_with(world, school, state, url)  # honest: remembers the head
        fake["log"] = forked_log(world, school["id"], keys)
        with pytest.raises(TrustError) as refused:
            send_with(world, school, state, url)
    assert refused.value.kind == "log_fork"
    assert world.db.execute("SELECT count(*) FROM signals").fetchone()[0] == 1
    events = school["admin"].get("/api/admin/security-events").json()
    assert [e["kind"] for e in events] == ["log_fork"]


# --- hwc audit ----------------------------------------------------------------------------


def test_hwc_audit_verifies_and_catches_a_rewritten_history(
    world: World, school: dict[str, Any], tmp_path: Path
) -> None:
    assert hwc(["audit", world.url]) == 0
    report, problems = audit(Client(world.url, None), None)
    assert problems == []
    first = json.dumps(report)  # what the command prints (the test's stdout holds log lines)
    heads = report["heads"]
    assert {h["org"] for h in heads} >= {school["id"], school["vt"]}
    earlier = tmp_path / "audit.json"
    earlier.write_text(first)
    world.member("teacher", school["id"])  # history grows: still consistent
    assert hwc(["audit", world.url, "--compare", str(earlier)]) == 0
    # The operator rewrites history: the contact's device entry is replaced and re-chained.
    entries = orglog.entries(world.db, school["id"])
    cut = next(i for i, e in enumerate(entries) if e["kind"] == "device_added")
    world.db.execute("DELETE FROM keylog WHERE org_id = ? AND seq >= ?", [school["id"], cut])
    rewritten = keylog.derive(school["id"], entries[:cut])
    entry = entries[cut] | {"prev": rewritten.hash, "at": entries[cut]["at"] + 1}
    world.db.execute(
        "INSERT INTO keylog (org_id, seq, entry, hash) VALUES (?, ?, ?, ?)",
        [school["id"], cut, keylog.canonical(entry).decode(), keylog.entry_hash(entry)],
    )
    report, problems = audit(Client(world.url, None), json.loads(first))
    assert [p for p in problems if school["id"] in p], problems
    assert hwc(["audit", world.url, "--compare", str(earlier)]) == 1


class CountingClient(Client):
    """The real client over real HTTP, remembering which paths it asked for."""

    def __init__(self, url: str) -> None:
        super().__init__(url, None)
        self.paths: list[str] = []

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        self.paths.append(path)
        return super()._request(method, path, body)


def test_hwc_audit_fetches_only_the_logs_whose_head_moved(
    world: World, school: dict[str, Any]
) -> None:
    first, problems = audit(CountingClient(world.url), None)
    assert problems == []
    world.member("teacher", school["id"])  # only the school's log grows
    again = CountingClient(world.url)
    report, problems = audit(again, first)
    assert problems == []
    assert [p for p in again.paths if p.endswith("/log")] == [f"/api/orgs/{school['id']}/log"]
    assert {h["org"] for h in report["heads"]} == {h["org"] for h in first["heads"]}
    quiet = CountingClient(world.url)
    assert audit(quiet, report)[1] == []
    assert not [p for p in quiet.paths if p.endswith("/log")]


def test_the_pending_flag_and_revocation_reach_the_auth_gate(
    world: World, school: dict[str, Any]
) -> None:
    """A device that still holds its credential after a decline is never an actor."""
    contact = school["contact"]
    tablet = world.enrol(contact.person_id)
    assert auth.device_actor(world.db, tablet.credential, world.now()) is None
    assert auth.pending_device(world.db, tablet.credential) == tablet.device_id


def test_the_demo_log_is_valid_and_demo_devices_sign(world: World) -> None:
    from server.demo import seed_demo

    lines = seed_demo(world.app)
    assert any(line.startswith("Sleutellijsten geldig") for line in lines)
    link = next(line for line in lines if "(intern begeleider)" in line)
    contact_id = next(
        r[0] for r in world.db.execute("SELECT id FROM people WHERE role = 'contact'")
    )
    phone = world.device(contact_id, token=link.split("#", 1)[1])
    org_id = world.db.execute("SELECT org_id FROM people WHERE id = ?", [contact_id]).fetchone()[0]
    state = verified(world, org_id)
    assert state.devices[phone.device_id].sig_key == phone.sig_key


def test_a_pending_device_pushes_the_persons_own_devices_neutrally(world: World) -> None:
    school_id = world.org()
    subscription = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/eigen-telefoon",
        "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
    }
    phone = world.device(world.person("contact", school_id), push=subscription)
    tablet = world.enrol(phone.person_id)
    rows = world.db.execute("SELECT device_id, kind, signal_id FROM outbox").fetchall()
    assert [tuple(r) for r in rows] == [(phone.device_id, "device_pending", None)]
    assert tablet.pending


def test_a_change_beside_a_device_the_log_lacks_is_refused(
    world: World, school: dict[str, Any]
) -> None:
    """The devices table and the log cannot drift apart through the server's own code: once a
    row was written beside it, every change to that organisation fails and changes nothing."""
    contact = school["contact"]
    _, public = generate_device_key()
    world.db.execute(
        "INSERT INTO devices (id, person_id, label, public_key, credential_hash, created_at) "
        "VALUES ('planted', ?, 'telefoon', ?, ?, ?)",
        [contact.person_id, public, secrets.token_bytes(32), world.now()],
    )
    size = verified(world, school["id"]).size
    made = school["admin"].post(
        "/api/admin/people", json={"name": "Juf Ans", "role": "teacher", "org_id": school["id"]}
    )
    assert made.status_code == 500
    assert verified(world, school["id"]).size == size
    assert world.db.execute("SELECT count(*) FROM people WHERE name = 'Juf Ans'").fetchone()[0] == 0


def test_the_admin_pages_show_provenance_pending_devices_and_security_events(
    world: World, school: dict[str, Any]
) -> None:
    admin, contact = school["admin"], school["contact"]
    tablet = world.enrol(contact.person_id)
    page = admin.get(f"/admin/orgs/{school['id']}").text
    assert "eerste apparaat, via een aanmeldlink" in page
    assert "wacht op goedkeuring van eigen telefoon" in page
    assert f'data-api="/api/admin/people/{contact.person_id}/reset"' in page
    assert contact.approve(tablet, school["id"]).status_code == 200
    assert (
        "goedgekeurd door een eigen ander apparaat" in admin.get(f"/admin/orgs/{school['id']}").text
    )
    body = {"kind": "recipients_mismatch", "org": school["id"]}
    assert school["sender"].post("/api/security-events", json=body).status_code == 201
    home = admin.get("/admin").text
    assert "Beveiligingsmeldingen" in home and "signaal niet verstuurd" in home


def test_the_person_can_block_a_device_planted_beside_the_log(
    world: World, school: dict[str, Any]
) -> None:
    """Attack (c) seen from the person's phone: /api/me names the planted device, the phone
    blocks it, and the log (which never held it) stays as it was."""
    contact = school["contact"]
    _, public = generate_device_key()
    world.db.execute(
        "INSERT INTO devices (id, person_id, label, public_key, credential_hash, created_at) "
        "VALUES ('planted', ?, 'Mijn telefoon', ?, ?, ?)",
        [contact.person_id, public, secrets.token_bytes(32), world.now()],
    )
    assert {"id": "planted", "label": "Mijn telefoon"} in contact.get("/api/me").json()["devices"]
    size = verified(world, school["id"]).size
    assert contact.post("/api/me/devices/planted/revoke").status_code == 200
    assert contact.get("/api/me").json()["devices"] == []
    assert verified(world, school["id"]).size == size
    assert recipient_ids(world, school["sender"], school["id"]) == {contact.device_id}


def test_an_enrolment_retry_with_the_same_link_is_a_first_device_again(
    world: World, school: dict[str, Any]
) -> None:
    """A browser that lost its cookie enrols again with the same link: the earlier device,
    never seen, ends in the log first, so the retry is no device beside it."""
    person = world.person("teacher", school["id"])
    token = world.enrol_link_token(person)

    def enrol() -> dict[str, Any]:
        body = {
            "token": token,
            "public_key": b64u_encode(generate_device_key()[1]),
            "sig_key": b64u_encode(generate_device_key()[1]),
            "label": "telefoon",
        }
        response = world.client().post("/api/enrol", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    lost = enrol()  # its credential never comes back
    again = enrol()
    assert not lost["pending"] and not again["pending"]
    entries = log_of(world, school["id"])["entries"]
    assert [(e["kind"], e.get("device")) for e in entries[-3:]] == [
        ("device_added", lost["device"]["id"]),
        ("device_revoked", lost["device"]["id"]),
        ("device_added", again["device"]["id"]),
    ]
