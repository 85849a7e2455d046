"""Who may call what: every route of `server.api.API_ROUTES` against every role, own and other
school or organisation, no credential, a revoked device, the X-HWC header and Sec-Fetch-Site;
plus the contact's management of their own teachers and the enrolment rate limits.

"Allowed" means the request passed the gate (not 401/403); every allowed request below is a
valid one, so it is also checked to succeed.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import auth, directory, keylog, machines
from server.api import API_ROUTES
from server.auth import COOKIE, RateLimiter
from server.cli import main as hwc
from server.envelope import b64u_encode, generate_device_key
from tests.conftest import live_world
from tests.support import Device, World, seal

NAME, BORN = "Kees Klaassen", "2015-05-05"
SCOPES = ("own", "other")
DEVICE_ROLES = frozenset({"admin", "sender", "contact", "teacher", "officer"})
ROLES = ("admin", "sender", "contact", "teacher", "officer", "apikey")
EVERYONE = DEVICE_ROLES | {"apikey"}
SENDING = frozenset({"sender", "officer", "apikey"})

# Who passes the gate of each route, from DESIGN.md section 5 and the @requires decorators.
# Where the code gives more than the section 5 table, the design elsewhere implies it:
#  - officer on schools/recipients/open: the leerplicht hop "finds the child's school" and
#    decrypts on the device (section 1); officer on POST /api/signals and close
#    ("not_in_municipality") go beyond the table (see the report);
#  - contact on the people routes: "a contact person can enrol the teachers of their own
#    school" (section 1);
#  - an organisation API key is a machine sender: everything a sender may, except the
#    device-only routes (/api/me...).
ALLOWED: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/api/enrol"): EVERYONE,
    ("GET", "/api/me"): DEVICE_ROLES,
    ("POST", "/api/me/key-lost"): DEVICE_ROLES,
    ("PUT", "/api/me/push"): DEVICE_ROLES,
    ("PUT", "/api/me/quiet"): DEVICE_ROLES,
    ("GET", "/api/push/key"): EVERYONE,
    ("GET", "/api/accessibility"): EVERYONE,
    ("GET", "/api/schools"): SENDING,
    ("GET", "/api/schools/{id}/recipients"): SENDING,
    ("POST", "/api/signals"): SENDING,
    ("GET", "/api/signals"): EVERYONE,
    ("GET", "/api/signals/{id}"): EVERYONE - {"admin"},
    ("POST", "/api/signals/{id}/open"): frozenset({"contact", "teacher", "officer"}),
    ("GET", "/api/schools/{id}/teachers"): frozenset({"contact"}),
    ("POST", "/api/signals/{id}/forward"): frozenset({"contact"}),
    ("POST", "/api/signals/{id}/relay"): frozenset({"officer"}),
    ("POST", "/api/signals/{id}/close"): frozenset({"contact", "officer"}),
    ("POST", "/api/signals/{id}/done"): frozenset({"teacher"}),
    ("POST", "/api/admin/regions"): frozenset({"admin"}),
    ("POST", "/api/admin/regions/{id}/municipalities"): frozenset({"admin"}),
    ("POST", "/api/admin/orgs"): frozenset({"admin"}),
    ("POST", "/api/admin/schools/import"): frozenset({"admin"}),
    ("POST", "/api/admin/orgs/{id}/free-days"): frozenset({"admin"}),
    ("POST", "/api/admin/orgs/{id}/phone"): frozenset({"admin"}),
    ("POST", "/api/admin/orgs/{id}/region"): frozenset({"admin"}),
    ("POST", "/api/admin/free-days/import"): frozenset({"admin"}),
    ("POST", "/api/admin/people"): frozenset({"admin", "contact"}),
    ("POST", "/api/admin/people/{id}/enrol-link"): frozenset({"admin", "contact"}),
    ("POST", "/api/admin/people/{id}/revoke"): frozenset({"admin", "contact"}),
    ("POST", "/api/admin/people/{id}/erase"): frozenset({"admin"}),
    ("POST", "/api/admin/devices/{id}/revoke"): frozenset({"admin", "contact"}),
    ("POST", "/api/admin/api-keys"): frozenset({"admin"}),
    ("POST", "/api/admin/api-keys/{id}/revoke"): frozenset({"admin"}),
    ("GET", "/api/me/pending"): DEVICE_ROLES,
    ("POST", "/api/me/devices/{id}/approve"): DEVICE_ROLES,
    ("POST", "/api/me/devices/{id}/decline"): DEVICE_ROLES,
    ("POST", "/api/me/devices/{id}/revoke"): DEVICE_ROLES,
    ("POST", "/api/me/devices/{id}/key"): DEVICE_ROLES,
    ("GET", "/api/me/old-keys"): DEVICE_ROLES,
    ("POST", "/api/me/enrol-link"): DEVICE_ROLES,
    ("GET", "/api/log/key"): EVERYONE,
    ("GET", "/api/log/heads"): EVERYONE,
    ("GET", "/api/orgs/{id}/log"): EVERYONE,
    ("POST", "/api/security-events"): EVERYONE,
    ("GET", "/api/admin/security-events"): frozenset({"admin"}),
    # an organisation's signing roles see forged signals in its name (issue 20); its people's
    # devices, not an API key (whoever stole one would learn whether their forgeries showed)
    ("GET", "/api/me/security-events"): DEVICE_ROLES - {"teacher"},
    ("POST", "/api/admin/people/{id}/reset"): frozenset({"admin", "contact"}),
    ("GET", "/api/admin/orgs/{id}/audit"): frozenset({"admin"}),
    # A sending system's key: registered with an API key (a sender's device: 409), decided
    # about by a device of a sender or an org admin (an admin without organisation: 409).
    ("POST", "/api/machine-keys"): frozenset({"sender", "apikey"}),
    ("GET", "/api/org/machine-keys"): frozenset({"sender", "admin"}),
    ("POST", "/api/org/machine-keys/{id}/approve"): frozenset({"sender", "admin"}),
    ("POST", "/api/org/machine-keys/{id}/decline"): frozenset({"sender", "admin"}),
    ("POST", "/api/org/machine-keys/{id}/revoke"): frozenset({"sender", "admin"}),
}
PUBLIC = {
    ("POST", "/api/enrol"),
    ("GET", "/api/push/key"),
    ("GET", "/api/accessibility"),
    ("GET", "/api/log/key"),
    ("GET", "/api/log/heads"),
    ("GET", "/api/orgs/{id}/log"),
}

# An allowed role aimed at another school's or organisation's thing answers 404, the same as a
# nonexistent id, so ids cannot be probed (the admin scopes: tests/test_admin_scope.py).
OTHER_SCOPE: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/api/signals/{id}"): {
        role: 404 for role in ("sender", "apikey", "contact", "teacher", "officer")
    },
    ("GET", "/api/schools/{id}/teachers"): {"contact": 403},
    ("POST", "/api/signals/{id}/open"): {"contact": 404, "teacher": 404, "officer": 404},
    ("POST", "/api/signals/{id}/forward"): {"contact": 404},
    ("POST", "/api/signals/{id}/relay"): {"officer": 404},
    ("POST", "/api/signals/{id}/close"): {"contact": 404, "officer": 404},
    ("POST", "/api/signals/{id}/done"): {"teacher": 404},
    ("POST", "/api/admin/people"): {"contact": 404},
    ("POST", "/api/admin/people/{id}/enrol-link"): {"contact": 404},
    ("POST", "/api/admin/people/{id}/revoke"): {"contact": 404},
    ("POST", "/api/admin/devices/{id}/revoke"): {"contact": 404},
    ("POST", "/api/admin/people/{id}/reset"): {"contact": 404},
    ("POST", "/api/org/machine-keys/{id}/approve"): {"sender": 404},
    ("POST", "/api/org/machine-keys/{id}/decline"): {"sender": 404},
    ("POST", "/api/org/machine-keys/{id}/revoke"): {"sender": 404},
}
ROUTE_KEYS = [(r.method, r.path) for r in API_ROUTES]


@dataclass
class Call:
    """One request, valid for the role it was built for; `ok` is its success status."""

    method: str
    url: str
    json: Any = None
    ok: int = 200
    credential: dict[str, str] | None = field(default=None)  # overrides the caller's identity


class Matrix:
    """Two of everything (own and other), one caller per role on the own side."""

    def __init__(self, world: World) -> None:
        w = self.world = world
        self.http = httpx.Client(base_url=world.url, timeout=10.0)
        self.school = {
            "own": w.org(name="Basisschool Eigen"),
            "other": w.org(name="Basisschool Ander"),
        }
        self.lp = {s: w.org("leerplicht", f"Leerplicht {s}") for s in SCOPES}
        self.vt = {s: w.org("veilig_thuis", f"Veilig Thuis {s}") for s in SCOPES}
        self.admin = w.member("admin", None)
        self.sender = w.member("sender", self.vt["own"])
        self.contact = {s: w.member("contact", self.school[s]) for s in SCOPES}
        self.teacher = {
            s: w.member("teacher", self.school[s], class_label="groep 3") for s in SCOPES
        }
        self.officer = {s: w.member("officer", self.lp[s]) for s in SCOPES}
        response = self.admin.post(
            "/api/admin/api-keys", json={"org_id": self.vt["own"], "label": "zaaksysteem"}
        )
        assert response.status_code == 201, response.text
        self.identity = {
            "admin": cookie_of(self.admin),
            "sender": cookie_of(self.sender),
            "contact": cookie_of(self.contact["own"]),
            "teacher": cookie_of(self.teacher["own"]),
            "officer": cookie_of(self.officer["own"]),
            "apikey": {"Authorization": f"Bearer {response.json()['api_key']}"},
        }

    def close(self) -> None:
        self.http.close()

    def request(
        self, call: Call, identity: dict[str, str], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = {
            "X-HWC": "1",
            **(call.credential if call.credential is not None else identity),
            **(headers or {}),
        }
        sent = {k: v for k, v in sent.items() if v is not None}
        response = self.http.request(call.method, call.url, json=call.json, headers=sent)
        self.http.cookies.clear()  # never let a Set-Cookie change who the next caller is
        return response

    # --- things to act on --------------------------------------------------------------

    def signal_to(self, org_id: str) -> str:
        response = self.world.send(self.sender, org_id, NAME, BORN)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def forwarded(self, scope: str) -> str:
        signal_id = self.signal_to(self.school[scope])
        response = self.world.forward(
            self.contact[scope],
            signal_id,
            self.school[scope],
            [self.teacher[scope].person_id],
            NAME,
            BORN,
        )
        assert response.status_code == 200, response.text
        return signal_id

    def sent_from(self, scope: str) -> str:
        """A signal sent by the own Veilig Thuis (own), or by the other one (other)."""
        if scope == "own":
            return self.signal_to(self.school["own"])
        sender = self.world.member("sender", self.vt["other"])
        response = self.world.send(sender, self.school["own"], NAME, BORN)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def signal_for(self, role: str, scope: str) -> str:
        """A fresh signal the role could act on, if it were theirs (own) or not (other)."""
        if role == "teacher":
            return self.forwarded(scope)
        if role == "officer":
            return self.signal_to(self.lp[scope])
        return self.signal_to(self.school[scope])

    def fresh_device(self, role: str) -> Device | None:
        """A new person's device calling as `role` (an API key has none), so that approving
        or blocking devices leaves the matrix's own people as they are."""
        return None if role == "apikey" else self.world.member(role, self.home_org(role))

    def pending_for(self, role: str) -> tuple[Device | None, Device | None]:
        """A fresh caller and a new device of its person waiting for its approval (none for
        an admin: no organisation, no key log, never pending)."""
        device = self.fresh_device(role)
        if device is None or role == "admin":
            return device, None
        waiting = self.world.enrol(device.person_id)
        assert waiting.pending
        return device, waiting

    def home_org(self, role: str) -> str | None:
        return {
            "admin": None,
            "sender": self.vt["own"],
            "contact": self.school["own"],
            "teacher": self.school["own"],
            "officer": self.lp["own"],
        }[role]


def cookie_of(device: Device) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={device.credential}"}


def sealed_for(devices: list[dict], signal_id: str) -> list[dict]:
    return seal(devices, signal_id, NAME, BORN)


# --- one valid request per route ---------------------------------------------------------

Builder = Callable[[Matrix, str, str], Call]


def b_enrol(m: Matrix, role: str, scope: str) -> Call:
    token = m.world.enrol_link_token(m.world.person("teacher", m.school[scope]))
    return Call(
        "POST",
        "/api/enrol",
        {
            "token": token,
            "label": "telefoon",
            "push": None,
            "public_key": b64u_encode(generate_device_key()[1]),
            "sig_key": b64u_encode(generate_device_key()[1]),
        },
        201,
    )


def b_me(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/me")


def b_key_lost(m: Matrix, role: str, scope: str) -> Call:
    # It revokes the calling device, so each device caller is a fresh device of that role.
    credential = None if role == "apikey" else cookie_of(m.world.member(role, m.home_org(role)))
    return Call("POST", "/api/me/key-lost", credential=credential)


def b_me_push(m: Matrix, role: str, scope: str) -> Call:
    return Call("PUT", "/api/me/push", {"push": None})


def b_me_quiet(m: Matrix, role: str, scope: str) -> Call:
    return Call("PUT", "/api/me/quiet", {"quiet_hours": "22:00-07:00"})


def b_push_key(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/push/key")


def b_accessibility(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/accessibility")


def b_find_schools(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/schools?q=Basisschool")


def b_recipients(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", f"/api/schools/{m.school[scope]}/recipients")


def b_send(m: Matrix, role: str, scope: str) -> Call:
    signal_id = b64u_encode(secrets.token_bytes(16))
    devices = m.sender.get(f"/api/schools/{m.school[scope]}/recipients").json()["devices"]
    return Call(
        "POST",
        "/api/signals",
        {
            "id": signal_id,
            "recipient_id": m.school[scope],
            "envelopes": sealed_for(devices, signal_id),
        },
        201,
    )


def b_list(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/signals")


def b_read(m: Matrix, role: str, scope: str) -> Call:
    if role in ("sender", "apikey"):
        return Call("GET", f"/api/signals/{m.sent_from(scope)}")
    return Call("GET", f"/api/signals/{m.signal_for(role, scope)}")


def b_open(m: Matrix, role: str, scope: str) -> Call:
    return Call("POST", f"/api/signals/{m.signal_for(role, scope)}/open")


def b_teachers(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", f"/api/schools/{m.school[scope]}/teachers")


def b_forward(m: Matrix, role: str, scope: str) -> Call:
    signal_id = m.signal_to(m.school[scope])
    teacher = m.teacher[scope]
    devices = [{"device_id": teacher.device_id, "public_key": b64u_encode(teacher.public_key)}]
    return Call(
        "POST",
        f"/api/signals/{signal_id}/forward",
        {"teachers": [teacher.person_id], "envelopes": sealed_for(devices, signal_id)},
    )


def b_relay(m: Matrix, role: str, scope: str) -> Call:
    signal_id = m.signal_to(m.lp[scope])
    devices = m.sender.get(f"/api/schools/{m.school['own']}/recipients").json()["devices"]
    return Call(
        "POST",
        f"/api/signals/{signal_id}/relay",
        {"school_id": m.school["own"], "envelopes": sealed_for(devices, signal_id)},
    )


def b_close(m: Matrix, role: str, scope: str) -> Call:
    reason = "not_in_municipality" if role == "officer" else "told_in_person"
    return Call("POST", f"/api/signals/{m.signal_for(role, scope)}/close", {"reason": reason})


def b_done(m: Matrix, role: str, scope: str) -> Call:
    return Call("POST", f"/api/signals/{m.signal_for(role, scope)}/done")


def b_create_region(m: Matrix, role: str, scope: str) -> Call:
    body = {"name": f"Regio {secrets.token_hex(3)}", "municipalities": "Zeist, Utrecht"}
    return Call("POST", "/api/admin/regions", body, 201)


def b_region_municipalities(m: Matrix, role: str, scope: str) -> Call:
    body = {"name": f"Regio {secrets.token_hex(3)}"}
    region = m.admin.post("/api/admin/regions", json=body).json()["id"]
    path = f"/api/admin/regions/{region}/municipalities"
    return Call("POST", path, {"municipalities": "Zeist, De Bilt"})


def b_create_org(m: Matrix, role: str, scope: str) -> Call:
    return Call(
        "POST",
        "/api/admin/orgs",
        {"kind": "veilig_thuis", "name": f"Veilig Thuis {secrets.token_hex(3)}"},
        201,
    )


def b_import(m: Matrix, role: str, scope: str) -> Call:
    code = "I" + secrets.token_hex(4).upper()
    return Call(
        "POST",
        "/api/admin/schools/import",
        {"csv": f"name,place,code,region\nObs De Linde,Zeist,{code},midden\n"},
        201,
    )


def b_free_days(m: Matrix, role: str, scope: str) -> Call:
    school = m.world.org(name="Basisschool Vrij")  # its own calendar, so no other test shifts
    return Call("POST", f"/api/admin/orgs/{school}/free-days", {"from": "2031-03-03"}, 201)


def b_org_phone(m: Matrix, role: str, scope: str) -> Call:
    school = m.world.org(name="Basisschool Bel Mij")
    return Call("POST", f"/api/admin/orgs/{school}/phone", {"phone": "030 123 45 67"}, 200)


def b_org_region(m: Matrix, role: str, scope: str) -> Call:
    school = m.world.org(name="Basisschool Andere Regio")
    return Call("POST", f"/api/admin/orgs/{school}/region", {"region": "zuid"}, 200)


def b_import_free_days(m: Matrix, role: str, scope: str) -> Call:
    school = m.world.org(name="Basisschool Vrij")
    code = m.world.db.execute("SELECT code FROM orgs WHERE id = ?", [school]).fetchone()[0]
    return Call(
        "POST",
        "/api/admin/free-days/import",
        {"csv": f"code,from,to\n{code},2031-03-03,2031-03-04\n"},
        201,
    )


def b_create_person(m: Matrix, role: str, scope: str) -> Call:
    return Call(
        "POST",
        "/api/admin/people",
        {"name": "Juf Ans", "role": "teacher", "org_id": m.school[scope]},
        201,
    )


def b_enrol_link(m: Matrix, role: str, scope: str) -> Call:
    person = m.world.person("teacher", m.school[scope])
    return Call("POST", f"/api/admin/people/{person}/enrol-link", ok=201)


def b_revoke_person(m: Matrix, role: str, scope: str) -> Call:
    return Call("POST", f"/api/admin/people/{m.world.person('teacher', m.school[scope])}/revoke")


def b_erase_person(m: Matrix, role: str, scope: str) -> Call:
    return Call("POST", f"/api/admin/people/{m.world.person('teacher', m.school[scope])}/erase")


def b_revoke_device(m: Matrix, role: str, scope: str) -> Call:
    device = m.world.member("teacher", m.school[scope])
    return Call("POST", f"/api/admin/devices/{device.device_id}/revoke")


def b_api_key(m: Matrix, role: str, scope: str) -> Call:
    return Call("POST", "/api/admin/api-keys", {"org_id": m.vt[scope], "label": "koppeling"}, 201)


def b_revoke_api_key(m: Matrix, role: str, scope: str) -> Call:
    key = auth.make_api_key(m.world.db, m.vt[scope], "oude koppeling", m.world.now())
    return Call("POST", f"/api/admin/api-keys/{auth.api_key_id(key)}/revoke")


NO_DEVICE = "AAAAAAAAAAAAAAAAAAAAAA"


def b_my_pending(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/me/pending")


def b_approve(m: Matrix, role: str, scope: str) -> Call:
    device, waiting = m.pending_for(role)
    if device is None or waiting is None:  # an admin has no key log: 409
        credential = None if device is None else cookie_of(device)
        body = {"approval": "A" * 86}
        return Call("POST", f"/api/me/devices/{NO_DEVICE}/approve", body, 409, credential)
    org_id = m.home_org(role)
    statement = keylog.approval_statement(
        str(org_id),
        waiting.person_id,
        waiting.device_id,
        b64u_encode(waiting.public_key),
        waiting.sig_key,
    )
    approval = keylog.sign(device.sig_private, statement)
    path = f"/api/me/devices/{waiting.device_id}/approve"
    return Call("POST", path, {"approval": approval}, credential=cookie_of(device))


def b_decline(m: Matrix, role: str, scope: str) -> Call:
    device, waiting = m.pending_for(role)
    credential = None if device is None else cookie_of(device)
    target = NO_DEVICE if waiting is None else waiting.device_id
    ok = 404 if waiting is None else 200
    return Call("POST", f"/api/me/devices/{target}/decline", ok=ok, credential=credential)


def b_revoke_sibling(m: Matrix, role: str, scope: str) -> Call:
    device = m.fresh_device(role)
    if device is None:
        return Call("POST", f"/api/me/devices/{NO_DEVICE}/revoke", ok=404)
    sibling = m.world.device(device.person_id)
    path = f"/api/me/devices/{sibling.device_id}/revoke"
    return Call("POST", path, credential=cookie_of(device))


def b_rotate_key(m: Matrix, role: str, scope: str) -> Call:
    """A fresh device's new key, signed by itself (an admin has no key log: 409)."""
    device = m.fresh_device(role)
    if device is None:
        return Call("POST", f"/api/me/devices/{NO_DEVICE}/key", {"enc_key": "A", "signature": "A"})
    enc_key = b64u_encode(generate_device_key()[1])
    org_id = str(m.home_org(role))
    statement = keylog.rotation_statement(org_id, device.person_id, device.device_id, enc_key)
    body = {"enc_key": enc_key, "signature": keylog.sign(device.sig_private, statement)}
    path = f"/api/me/devices/{device.device_id}/key"
    return Call("POST", path, body, 409 if role == "admin" else 200, cookie_of(device))


def b_my_old_keys(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/me/old-keys")


def b_my_enrol_link(m: Matrix, role: str, scope: str) -> Call:
    return Call("POST", "/api/me/enrol-link", ok=201)


def b_log_key(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/log/key")


def b_log_heads(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/log/heads")


def b_org_log(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", f"/api/orgs/{m.school[scope]}/log")


def b_security_event(m: Matrix, role: str, scope: str) -> Call:
    body = {"kind": "recipients_mismatch", "org": m.school[scope]}
    return Call("POST", "/api/security-events", body, 201)


def b_security_events(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/admin/security-events")


def b_org_audit(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", f"/api/admin/orgs/{m.school[scope]}/audit")


def b_own_security_events(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/me/security-events")


def b_reset(m: Matrix, role: str, scope: str) -> Call:
    person = m.world.member("teacher", m.school[scope]).person_id
    return Call("POST", f"/api/admin/people/{person}/reset", ok=201)


def fresh_vt(m: Matrix) -> str:
    return m.world.org("veilig_thuis", f"Veilig Thuis {secrets.token_hex(3)}")


def registered_machine(m: Matrix, org_id: str) -> tuple[str, str]:
    """A sending system's key waiting in `org_id`: (machine id, sig_key)."""
    key = auth.make_api_key(m.world.db, org_id, "zaaksysteem", m.world.now())
    sig_key = keylog.public_b64u(generate_device_key()[0])
    answer = machines.register(m.world.db, org_id, auth.api_key_id(key), sig_key, m.world.now())
    return answer["id"], sig_key


def b_register_machine(m: Matrix, role: str, scope: str) -> Call:
    body = {"sig_key": keylog.public_b64u(generate_device_key()[0])}
    if role != "apikey":  # a device is no sending system
        return Call("POST", "/api/machine-keys", body, 409)
    key = auth.make_api_key(m.world.db, fresh_vt(m), "zaaksysteem", m.world.now())
    return Call("POST", "/api/machine-keys", body, 201, {"Authorization": f"Bearer {key}"})


def b_list_machines(m: Matrix, role: str, scope: str) -> Call:
    return Call("GET", "/api/org/machine-keys", ok=409 if role == "admin" else 200)


def machine_call(m: Matrix, role: str, scope: str, action: str) -> Call:
    """A fresh sender deciding about a system of its own organisation (own) or another's."""
    if role != "sender":  # an admin without organisation: 409; the rest stop at the gate
        body = {"approval": "A" * 86} if action == "approve" else None
        return Call("POST", f"/api/org/machine-keys/{NO_DEVICE}/{action}", body, 409)
    vt = fresh_vt(m)
    sender = m.world.member("sender", vt)
    home = vt if scope == "own" else fresh_vt(m)
    machine, sig_key = registered_machine(m, home)
    approval = keylog.sign(sender.sig_private, keylog.machine_statement(home, machine, sig_key))
    if action == "revoke" and scope == "own":
        machines.approve(m.world.db, sender.device_id, vt, machine, approval, m.world.now())
    body = {"approval": approval} if action == "approve" else None
    path = f"/api/org/machine-keys/{machine}/{action}"
    return Call("POST", path, body, credential=cookie_of(sender))


def b_approve_machine(m: Matrix, role: str, scope: str) -> Call:
    return machine_call(m, role, scope, "approve")


def b_decline_machine(m: Matrix, role: str, scope: str) -> Call:
    return machine_call(m, role, scope, "decline")


def b_revoke_machine(m: Matrix, role: str, scope: str) -> Call:
    return machine_call(m, role, scope, "revoke")


BUILDERS: dict[tuple[str, str], Builder] = {
    ("POST", "/api/machine-keys"): b_register_machine,
    ("GET", "/api/org/machine-keys"): b_list_machines,
    ("POST", "/api/org/machine-keys/{id}/approve"): b_approve_machine,
    ("POST", "/api/org/machine-keys/{id}/decline"): b_decline_machine,
    ("POST", "/api/org/machine-keys/{id}/revoke"): b_revoke_machine,
    ("GET", "/api/me/pending"): b_my_pending,
    ("POST", "/api/me/devices/{id}/approve"): b_approve,
    ("POST", "/api/me/devices/{id}/decline"): b_decline,
    ("POST", "/api/me/devices/{id}/revoke"): b_revoke_sibling,
    ("POST", "/api/me/devices/{id}/key"): b_rotate_key,
    ("GET", "/api/me/old-keys"): b_my_old_keys,
    ("POST", "/api/me/enrol-link"): b_my_enrol_link,
    ("GET", "/api/log/key"): b_log_key,
    ("GET", "/api/log/heads"): b_log_heads,
    ("GET", "/api/orgs/{id}/log"): b_org_log,
    ("POST", "/api/security-events"): b_security_event,
    ("GET", "/api/admin/security-events"): b_security_events,
    ("GET", "/api/me/security-events"): b_own_security_events,
    ("POST", "/api/admin/people/{id}/reset"): b_reset,
    ("GET", "/api/admin/orgs/{id}/audit"): b_org_audit,
    ("POST", "/api/enrol"): b_enrol,
    ("GET", "/api/me"): b_me,
    ("POST", "/api/me/key-lost"): b_key_lost,
    ("PUT", "/api/me/push"): b_me_push,
    ("PUT", "/api/me/quiet"): b_me_quiet,
    ("GET", "/api/push/key"): b_push_key,
    ("GET", "/api/accessibility"): b_accessibility,
    ("GET", "/api/schools"): b_find_schools,
    ("GET", "/api/schools/{id}/recipients"): b_recipients,
    ("POST", "/api/signals"): b_send,
    ("GET", "/api/signals"): b_list,
    ("GET", "/api/signals/{id}"): b_read,
    ("POST", "/api/signals/{id}/open"): b_open,
    ("GET", "/api/schools/{id}/teachers"): b_teachers,
    ("POST", "/api/signals/{id}/forward"): b_forward,
    ("POST", "/api/signals/{id}/relay"): b_relay,
    ("POST", "/api/signals/{id}/close"): b_close,
    ("POST", "/api/signals/{id}/done"): b_done,
    ("POST", "/api/admin/regions"): b_create_region,
    ("POST", "/api/admin/regions/{id}/municipalities"): b_region_municipalities,
    ("POST", "/api/admin/orgs"): b_create_org,
    ("POST", "/api/admin/schools/import"): b_import,
    ("POST", "/api/admin/orgs/{id}/free-days"): b_free_days,
    ("POST", "/api/admin/orgs/{id}/phone"): b_org_phone,
    ("POST", "/api/admin/orgs/{id}/region"): b_org_region,
    ("POST", "/api/admin/free-days/import"): b_import_free_days,
    ("POST", "/api/admin/people"): b_create_person,
    ("POST", "/api/admin/people/{id}/enrol-link"): b_enrol_link,
    ("POST", "/api/admin/people/{id}/revoke"): b_revoke_person,
    ("POST", "/api/admin/people/{id}/erase"): b_erase_person,
    ("POST", "/api/admin/devices/{id}/revoke"): b_revoke_device,
    ("POST", "/api/admin/api-keys"): b_api_key,
    ("POST", "/api/admin/api-keys/{id}/revoke"): b_revoke_api_key,
}


def expected_status(key: tuple[str, str], role: str, scope: str, call: Call) -> int:
    if role not in ALLOWED[key]:
        return 403
    if scope == "other" and role in OTHER_SCOPE.get(key, {}):
        return OTHER_SCOPE[key][role]
    return call.ok


LAST_USE_COLUMNS = {("devices", "last_seen_at"), ("api_keys", "last_used_at")}


def table_dump(world: World) -> dict[str, list[tuple]]:
    """Every row of every table; when a credential was last used may move on any request."""
    dump = {}
    for (table,) in world.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    ).fetchall():
        columns = [
            c[1]
            for c in world.db.execute(f"PRAGMA table_info({table})").fetchall()
            if (table, c[1]) not in LAST_USE_COLUMNS
        ]
        rows = world.db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
        dump[table] = sorted(tuple(r) for r in rows)
    return dump


def relax_limits(world: World) -> None:
    """The matrix enrols and sends far more than one person would; limits have own tests."""
    for name, limiter in list(world.app.state.limits.items()):
        world.app.state.limits[name] = RateLimiter(10**9, limiter.window)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    with live_world(Path(tmp_path_factory.mktemp("auth")) / "hwc.db") as world:
        relax_limits(world)
        m = Matrix(world)
        try:
            yield m
        finally:
            m.close()


# --- the matrix ----------------------------------------------------------------------------


def test_every_route_is_in_the_table() -> None:
    assert sorted(ROUTE_KEYS) == sorted(ALLOWED) == sorted(BUILDERS)
    # The decorators say the same as the table, apart from the API key (a sender without a
    # device) and the public routes, which have no decorator.
    for route in API_ROUTES:
        key = (route.method, route.path)
        if key in PUBLIC:
            assert route.public and not hasattr(route.endpoint, "roles")
            continue
        declared = set(route.endpoint.roles)  # type: ignore[attr-defined]
        assert declared == set(ALLOWED[key] - {"apikey"}), key


@pytest.mark.parametrize("key", ROUTE_KEYS, ids=[f"{m} {p}" for m, p in ROUTE_KEYS])
def test_route_allows_exactly(matrix: Matrix, key: tuple[str, str]) -> None:
    observed, expected, bodies = {}, {}, {}
    for role in ROLES:
        for scope in SCOPES:
            call = BUILDERS[key](matrix, role, scope)
            response = matrix.request(call, matrix.identity[role])
            observed[role, scope] = response.status_code
            expected[role, scope] = expected_status(key, role, scope, call)
            bodies[role, scope] = response.text[:200]
            if response.status_code >= 400:
                body = response.json()
                assert set(body) >= {"error", "message"}, body
    assert observed == expected, {
        k: (observed[k], bodies[k]) for k in observed if observed[k] != expected[k]
    }
    allowed = {role for role in ROLES if observed[role, "own"] not in (401, 403)}
    assert allowed == set(ALLOWED[key])


@pytest.mark.parametrize("key", ROUTE_KEYS, ids=[f"{m} {p}" for m, p in ROUTE_KEYS])
def test_no_credential_is_401(matrix: Matrix, key: tuple[str, str]) -> None:
    role = sorted(ALLOWED[key] & DEVICE_ROLES)[0]
    call = BUILDERS[key](matrix, role, "own")
    call.credential = {}
    response = matrix.request(call, {})
    if key in PUBLIC:
        assert response.status_code == call.ok, response.text
    else:
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "not_enrolled"
    for forged in (
        {"Cookie": f"{COOKIE}=nothing.here"},
        {"Authorization": "Bearer hwc_x.y"},
        {"Cookie": f"{COOKIE}={secrets.token_urlsafe(16)}"},
    ):
        call = BUILDERS[key](matrix, role, "own")
        call.credential = forged
        status = matrix.request(call, {}).status_code
        assert status == (call.ok if key in PUBLIC else 401), (forged, status)


def test_revoked_devices_get_401_everywhere_and_lose_their_envelopes(matrix: Matrix) -> None:
    w = matrix.world
    fresh = {role: w.member(role, matrix.home_org(role)) for role in sorted(DEVICE_ROLES)}
    # Give the receiving ones something to hold: a signal each.
    contact_signal = matrix.signal_to(matrix.school["own"])
    officer_signal = matrix.signal_to(matrix.lp["own"])
    teacher_signal = matrix.signal_to(matrix.school["own"])
    forwarded = w.forward(
        matrix.contact["own"],
        teacher_signal,
        matrix.school["own"],
        [fresh["teacher"].person_id],
        NAME,
        BORN,
    )
    assert forwarded.status_code == 200, forwarded.text
    for role in ("contact", "officer", "teacher"):
        held = w.db.execute(
            "SELECT count(*) FROM envelopes WHERE device_id = ?", [fresh[role].device_id]
        ).fetchone()[0]
        assert held == 1, role

    for role, device in fresh.items():
        revoked = matrix.admin.post(f"/api/admin/devices/{device.device_id}/revoke")
        assert revoked.status_code == 200, revoked.text
        assert (
            w.db.execute(
                "SELECT count(*) FROM envelopes WHERE device_id = ?", [device.device_id]
            ).fetchone()[0]
            == 0
        )
        assert device.get("/api/me").status_code == 401
        for key in ROUTE_KEYS:
            call = BUILDERS[key](matrix, role, "own")
            call.credential = cookie_of(device)
            response = matrix.request(call, {})
            want = call.ok if key in PUBLIC else 401
            assert response.status_code == want, (role, key, response.text)
    # The signals themselves live on for the others who hold them.
    assert matrix.contact["own"].open(contact_signal)["name"] == NAME
    assert matrix.officer["own"].open(officer_signal)["name"] == NAME


def test_revoked_api_keys_get_401_everywhere(matrix: Matrix, tmp_path: Path) -> None:
    """Revoked on the admin page (its API route) or with `hwc revoke-api-key`: dead at once."""
    w = matrix.world

    def by_page(key: str) -> None:
        revoked = matrix.admin.post(f"/api/admin/api-keys/{auth.api_key_id(key)}/revoke")
        assert revoked.status_code == 200, revoked.text

    def by_command(key: str) -> None:
        database = w.app.state.settings.database
        assert hwc(["revoke-api-key", auth.api_key_id(key), "--database", database]) == 0

    for revoke in (by_page, by_command):
        made = matrix.admin.post(
            "/api/admin/api-keys", json={"org_id": matrix.vt["own"], "label": revoke.__name__}
        )
        key = made.json()["api_key"]
        identity = {"Authorization": f"Bearer {key}"}
        assert matrix.request(Call("GET", "/api/signals"), identity).status_code == 200
        revoke(key)
        for route_key in ROUTE_KEYS:
            call = BUILDERS[route_key](matrix, "apikey", "own")
            call.credential = identity
            response = matrix.request(call, {})
            want = call.ok if route_key in PUBLIC else 401
            assert response.status_code == want, (revoke.__name__, route_key, response.text)
    # The organisation's other key, and its people, are untouched.
    assert matrix.request(Call("GET", "/api/signals"), matrix.identity["apikey"]).status_code == 200
    assert (
        matrix.admin.post(f"/api/admin/api-keys/{secrets.token_hex(8)}/revoke").status_code == 404
    )
    assert (
        hwc(["revoke-api-key", "hwc_nothing.x", "--database", w.app.state.settings.database]) == 1
    )


def test_admin_page_lists_api_keys_with_creation_and_last_use(
    matrix: Matrix, capsys: pytest.CaptureFixture[str]
) -> None:
    w, org = matrix.world, matrix.vt["other"]
    used = auth.make_api_key(w.db, org, "Zaaksysteem Noord", w.now() - 3 * 86400)
    unused = auth.make_api_key(w.db, org, "Zaaksysteem Zuid", w.now() - 86400)
    gone = auth.make_api_key(w.db, org, "Oude koppeling", w.now() - 5 * 86400)
    assert auth.revoke_api_key(w.db, auth.api_key_id(gone), w.now())
    assert (
        matrix.request(Call("GET", "/api/signals"), {"Authorization": f"Bearer {used}"}).status_code
        == 200
    )
    page = matrix.request(Call("GET", f"/admin/orgs/{org}"), matrix.identity["admin"])
    assert page.status_code == 200
    rows = {
        label: next(row for row in page.text.split("<tr>")[1:] if label in row)
        for label in ("Zaaksysteem Noord", "Zaaksysteem Zuid", "Oude koppeling")
    }
    today = w.app.state.clock.local().strftime("%d-%m-%Y")
    used_row, unused_row, gone_row = rows.values()
    assert used_row.count(today) == 1 and "actief" in used_row  # made 3 days ago, used today
    assert "nooit" in unused_row
    assert f"/api/admin/api-keys/{auth.api_key_id(unused)}/revoke" in unused_row
    assert "ingetrokken op" in gone_row and "/revoke" not in gone_row
    for key in (used, unused, gone):  # ids are shown, secrets never
        assert key.split(".", 1)[1] not in page.text
    assert auth.api_key_id(used) in page.text
    # `hwc api-keys` lists the same.
    assert hwc(["api-keys", "--database", w.app.state.settings.database]) == 0
    listed = capsys.readouterr().out
    line = next(x for x in listed.splitlines() if auth.api_key_id(gone) in x)
    assert "Oude koppeling" in line and "ingetrokken" in line
    assert used.split(".", 1)[1] not in listed


STATE_CHANGING = [k for k in ROUTE_KEYS if k[0] != "GET"]
SAFE = [k for k in ROUTE_KEYS if k[0] == "GET"]


@pytest.mark.parametrize("key", STATE_CHANGING, ids=[f"{m} {p}" for m, p in STATE_CHANGING])
def test_state_changes_need_x_hwc_and_same_site(matrix: Matrix, key: tuple[str, str]) -> None:
    role = sorted(ALLOWED[key] - {"apikey"})[0]
    call = BUILDERS[key](matrix, role, "own")
    identity = matrix.identity[role]
    before = table_dump(matrix.world)
    for headers in (
        {"X-HWC": None},
        {"X-HWC": "0"},
        {"X-HWC": "true"},
        {"Sec-Fetch-Site": "cross-site"},
        {"X-HWC": None, "Sec-Fetch-Site": "none"},
    ):
        response = matrix.request(call, identity, headers)
        assert response.status_code == 403, (headers, response.text)
        assert response.json()["error"] == "missing_header"
    assert table_dump(matrix.world) == before
    # The same request with the header from the same site goes through.
    response = matrix.request(call, identity, {"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == call.ok, response.text


@pytest.mark.parametrize("key", SAFE, ids=[f"{m} {p}" for m, p in SAFE])
def test_reads_need_no_header(matrix: Matrix, key: tuple[str, str]) -> None:
    role = sorted(ALLOWED[key] - {"apikey"})[0]
    call = BUILDERS[key](matrix, role, "own")
    for headers in ({"X-HWC": None}, {"X-HWC": None, "Sec-Fetch-Site": "cross-site"}):
        response = matrix.request(call, matrix.identity[role], headers)
        assert response.status_code == call.ok, (headers, response.text)


# --- a contact manages only the teachers of their own school --------------------------------


def test_contact_manages_only_own_teachers(matrix: Matrix) -> None:
    w, contact = matrix.world, matrix.contact["own"]
    own_school, other_school = matrix.school["own"], matrix.school["other"]
    fellow_contact = w.member("contact", own_school)
    not_teachers = [
        fellow_contact.person_id,
        matrix.admin.person_id,
        matrix.sender.person_id,
        matrix.officer["own"].person_id,
        matrix.teacher["other"].person_id,
    ]
    for person_id in not_teachers:
        for action in ("enrol-link", "revoke"):
            response = contact.post(f"/api/admin/people/{person_id}/{action}")
            assert response.status_code == 404, (person_id, action, response.text)
    for device in (fellow_contact, matrix.teacher["other"], matrix.officer["own"]):
        response = contact.post(f"/api/admin/devices/{device.device_id}/revoke")
        assert response.status_code == 404, response.text
        assert device.get("/api/me").status_code == 200  # still enrolled
    for body, status in (
        ({"name": "Meester Bas", "role": "contact", "org_id": own_school}, 403),
        ({"name": "Meester Bas", "role": "admin", "org_id": own_school}, 403),
        ({"name": "Meester Bas", "role": "teacher", "org_id": other_school}, 404),
        ({"name": "Meester Bas", "role": "admin"}, 404),
        ({"name": "Meester Bas", "role": "sender", "org_id": matrix.vt["own"]}, 404),
    ):
        assert contact.post("/api/admin/people", json=body).status_code == status, body
    assert contact.post(f"/api/admin/people/{secrets.token_hex(8)}/revoke").status_code == 404

    # What a contact may do works end to end: register a teacher, enrol them, revoke them.
    made = contact.post(
        "/api/admin/people",
        json={"name": "Juf Noor", "role": "teacher", "org_id": own_school, "class_label": "1/2"},
    )
    assert made.status_code == 201, made.text
    teacher_id = made.json()["id"]
    link = contact.post(f"/api/admin/people/{teacher_id}/enrol-link")
    assert link.status_code == 201, link.text
    token = link.json()["link"].split("#", 1)[1]
    body = {
        "token": token,
        "label": "telefoon",
        "push": None,
        "public_key": b64u_encode(generate_device_key()[1]),
        "sig_key": b64u_encode(generate_device_key()[1]),
    }
    enrolled = matrix.http.post("/api/enrol", json=body, headers={"X-HWC": "1"})
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["person"]["role"] == "teacher"
    assert enrolled.json()["org"]["id"] == own_school
    credential = enrolled.cookies[COOKIE]
    matrix.http.cookies.clear()
    seen = matrix.http.get("/api/me", headers={"Cookie": f"{COOKIE}={credential}"})
    assert seen.status_code == 200  # the device came back: its link is spent for good
    again = matrix.http.post("/api/enrol", json=body, headers={"X-HWC": "1"})
    assert again.status_code == 400 and again.json()["error"] == "token_invalid"
    teacher_device = enrolled.json()["device"]["id"]
    listed = contact.get(f"/api/schools/{own_school}/teachers").json()
    assert teacher_device in [d["device_id"] for t in listed for d in t["devices"]]
    assert contact.post(f"/api/admin/devices/{teacher_device}/revoke").status_code == 200
    me = matrix.http.get("/api/me", headers={"Cookie": f"{COOKIE}={credential}"})
    assert me.status_code == 401


# --- rate limits ---------------------------------------------------------------------------


def enrol_attempt(world: World, token: str, come_back: bool = True) -> httpx.Response:
    """Enrol a fresh key with the link; the new device then uses its credential, as the app
    does at once, unless told not to (a browser that dropped the cookie)."""
    client = world.client()
    response = client.post(
        "/api/enrol",
        json={
            "token": token,
            "label": "telefoon",
            "push": None,
            "public_key": b64u_encode(generate_device_key()[1]),
            "sig_key": b64u_encode(generate_device_key()[1]),
        },
    )
    if come_back and response.status_code == 201:
        credential = response.cookies[COOKIE]
        assert (
            client.get("/api/me", headers={"Cookie": f"{COOKIE}={credential}"}).status_code == 200
        )
    return response


def test_a_link_enrols_one_device_that_came_back(world: World) -> None:
    """A browser that dropped the cookie leaves the link usable for a few minutes, by one
    device at a time: the next replaces the one that never came back; one that came back
    spends the link for good."""
    token = world.enrol_link_token(world.person("teacher", world.org()))
    dropped = enrol_attempt(world, token, come_back=False)
    assert dropped.status_code == 201, dropped.text
    second = enrol_attempt(world, token, come_back=False)
    assert second.status_code == 201, second.text
    first_credential = dropped.cookies[COOKIE]
    assert (
        world.client()
        .get("/api/me", headers={"Cookie": f"{COOKIE}={first_credential}"})
        .status_code
        == 401
    )
    revoked = world.db.execute(
        "SELECT revoked_at IS NOT NULL FROM devices WHERE id = ?", [dropped.json()["device"]["id"]]
    ).fetchone()[0]
    assert revoked
    third = enrol_attempt(world, token)  # the second never came back either: replaced
    assert third.status_code == 201, third.text
    refused = enrol_attempt(world, token)  # the third came back: the link is spent
    assert refused.status_code == 400 and refused.json()["error"] == "token_invalid"
    working = world.db.execute("SELECT count(*) FROM devices WHERE revoked_at IS NULL").fetchone()[
        0
    ]
    assert working == 1


def test_a_link_not_taken_up_again_within_minutes_is_spent(world: World) -> None:
    token = world.enrol_link_token(world.person("teacher", world.org()))
    assert enrol_attempt(world, token, come_back=False).status_code == 201
    world.app.state.clock.advance(auth.ENROL_RETRY_SECONDS + 1)
    late = enrol_attempt(world, token)
    assert late.status_code == 400 and late.json()["error"] == "token_invalid"


def assert_rate_limited(response: httpx.Response, window: int = 600) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "rate_limited"
    assert re.search(r"\b(even|opnieuw)\b", response.json()["message"])
    assert 1 <= int(response.headers["Retry-After"]) <= window + 1


class StepClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_junk_is_limited_per_address_and_never_holds_a_real_link_back(world: World) -> None:
    """Every client here shares 127.0.0.1, as they do behind a router that is not trusted."""
    clock = StepClock()
    world.app.state.limits["enrol_ip"].clock = clock
    teacher = world.person("teacher", world.org())
    for attempt in range(20):
        response = enrol_attempt(world, f"guess-{attempt}-{secrets.token_hex(12)}")
        assert response.status_code == 400, (attempt, response.text)
    assert_rate_limited(
        enrol_attempt(world, "yet-another-guess-" + secrets.token_hex(12)), window=30
    )
    junk = world.client().post(
        "/api/enrol", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_rate_limited(junk, window=30)  # a body that does not even parse is junk too
    # A link this server made still enrols from the same address.
    assert enrol_attempt(world, world.enrol_link_token(teacher)).status_code == 201
    # The junk budget comes back at one try per 30 s (20 per 10 minutes).
    clock.now += 30
    assert enrol_attempt(world, "guess-after-" + secrets.token_hex(12)).status_code == 400
    assert_rate_limited(enrol_attempt(world, "guess-again-" + secrets.token_hex(12)), window=30)


def test_enrolment_rate_limited_per_token(world: World) -> None:
    teacher = world.person("teacher", world.org())
    token = world.enrol_link_token(teacher)
    # Forgeries of one link's signature are junk: counted per address, not against the link.
    for attempt in range(5):
        forged = secrets.token_urlsafe(8) + token[10:]
        assert enrol_attempt(world, forged).status_code == 400, attempt
    # A real link counts its own tries (here: a key that is not on the curve).
    bad_key = {
        "token": token,
        "label": "telefoon",
        "push": None,
        "public_key": "A" * 87,
        "sig_key": "A" * 87,
    }
    for attempt in range(5):
        refused = world.client().post("/api/enrol", json=bad_key)
        assert refused.status_code == 422, (attempt, refused.text)
    assert_rate_limited(enrol_attempt(world, token))
    # Another link from the same address is not held back by it.
    other = world.enrol_link_token(world.person("teacher", world.org()))
    assert enrol_attempt(world, other).status_code == 201


def test_token_limit_counts_even_valid_tokens_once_spent(world: World) -> None:
    token = world.enrol_link_token(world.person("teacher", world.org()))
    assert enrol_attempt(world, token).status_code == 201
    for _ in range(4):
        response = enrol_attempt(world, token)
        assert response.status_code == 400 and response.json()["error"] == "token_invalid"
    assert_rate_limited(enrol_attempt(world, token))


def test_one_public_key_belongs_to_one_device(world: World) -> None:
    contact = world.member("contact", world.org())
    token = world.enrol_link_token(world.person("teacher", world.org()))
    body = {
        "token": token,
        "label": "telefoon",
        "push": None,
        "public_key": b64u_encode(contact.public_key),
        "sig_key": b64u_encode(generate_device_key()[1]),
    }
    taken = world.client().post("/api/enrol", json=body)
    assert (taken.status_code, taken.json()["error"]) == (409, "key_in_use"), taken.text
    assert "sleutel hoort al bij een ander apparaat" in taken.json()["message"]
    # A revoked device's key stays its own; the same person's next device needs its own too.
    directory.revoke_device(world.db, contact.device_id, world.now())
    again = world.client().post(
        "/api/enrol", json=body | {"token": world.enrol_link_token(contact.person_id)}
    )
    assert again.status_code == 409, again.text
    # The refusal spent nothing: the link enrols with a key of its own.
    fresh = world.client().post(
        "/api/enrol", json=body | {"public_key": b64u_encode(generate_device_key()[1])}
    )
    assert fresh.status_code == 201, fresh.text
    # And the database holds the rule itself, whatever code writes to it.
    with pytest.raises(sqlite3.IntegrityError):
        world.db.execute(
            "UPDATE devices SET public_key = ? WHERE id = ?",
            [contact.public_key, fresh.json()["device"]["id"]],
        )


def test_enrolment_sets_a_host_only_strict_cookie(world: World) -> None:
    response = enrol_attempt(world, world.enrol_link_token(world.person("admin", None)))
    assert response.status_code == 201, response.text
    cookie = response.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in rest.split(";")[1:]}
    assert name == auth.COOKIE == "__Host-hwc"
    assert {"secure", "httponly", "samesite", "path"} <= set(attributes)
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/"
    assert "domain" not in attributes
