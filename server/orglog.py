"""The key log in the database: each organisation's entries, appended in the transaction that
changes its people or devices, and checked against the devices table in that same transaction.

The rules live in server/keylog.py; here the server builds entries, refuses one that the rules
refuse (the server never writes a log its clients would reject), and after every append checks
that the devices the server would encrypt to (active, not pending) are exactly the devices the
log makes active: the two can never disagree without a write that bypasses this module, and
clients detect that one.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from server import keylog
from server.db import Store, meta_get, meta_set
from server.envelope import b64u_encode, canonical

GENESIS_DONE = "keylog_genesis"


class LogMismatch(RuntimeError):
    """The devices table and the log disagree: the change is rolled back (a server fault)."""


def by_admin(person_id: str | None) -> str:
    return f"admin:{person_id}" if person_id else "server"


def by_staff(role: str, person_id: str | None) -> str:
    """An admin's or a contact's act in the web app."""
    return by_admin(person_id) if role == "admin" else by_person(str(person_id))


def by_person(person_id: str) -> str:
    return f"person:{person_id}"


def by_device(device_id: str) -> str:
    return f"device:{device_id}"


def entries(db: Store, org_id: str) -> list[dict[str, Any]]:
    rows = db.execute("SELECT entry FROM keylog WHERE org_id = ? ORDER BY seq", [org_id])
    return [json.loads(r[0]) for r in rows.fetchall()]


def state(db: Store, org_id: str) -> keylog.State:
    return keylog.derive(org_id, entries(db, org_id))


def logged_active(current: keylog.State, device_id: str) -> bool:
    """Whether the organisation's log (its derived state) names the device active."""
    device = current.devices.get(device_id)
    return device is not None and device.active and not current.people[device.person]["revoked"]


def person_org(db: Store, person_id: str) -> str | None:
    row = db.execute("SELECT org_id FROM people WHERE id = ?", [person_id]).fetchone()
    return None if row is None else row[0]


def append(
    db: Store,
    org_id: str,
    kind: str,
    by: str,
    now: float,
    *,
    check: bool = True,
    current: keylog.State | None = None,
    **fields: Any,
) -> keylog.State:
    """Append one entry to the organisation's log. Call inside the transaction that made the
    change, after it: the devices table is checked against the new state (the genesis checks
    once, at its end). `current`: the log's state the caller already derived in this
    transaction (deriving verifies the whole log again). Returns the new state."""
    if current is None:
        current = state(db, org_id)
    entry = {
        "org": org_id,
        "seq": current.size,
        "prev": current.hash,
        "at": max(int(now), current.at),
        "kind": kind,
        "by": by,
        **fields,
    }
    entry_hash = keylog.apply(current, entry)  # LogError: a change the rules do not allow
    db.execute(
        "INSERT INTO keylog (org_id, seq, entry, hash) VALUES (?, ?, ?, ?)",
        [org_id, entry["seq"], canonical(entry).decode("ascii"), entry_hash],
    )
    if check:
        check_devices(db, org_id, current)
    return current


def table_devices(db: Store, org_id: str) -> dict[str, tuple[str, str]]:
    """The devices the server would encrypt to or let act: {id: (enc_key, sig_key)}."""
    rows = db.execute(
        "SELECT d.id, d.public_key, d.sig_key FROM devices d JOIN people p ON p.id = d.person_id "
        "WHERE p.org_id = ? AND d.revoked_at IS NULL AND p.revoked_at IS NULL AND d.pending = 0",
        [org_id],
    ).fetchall()
    return {r[0]: (b64u_encode(r[1]), b64u_encode(r[2] or b"")) for r in rows}


def log_devices(current: keylog.State) -> dict[str, tuple[str, str]]:
    return {
        device_id: (device.enc_key, device.sig_key)
        for device_id, device in current.devices.items()
        if device.active and not current.people[device.person]["revoked"]
    }


def check_devices(db: Store, org_id: str, current: keylog.State) -> None:
    if table_devices(db, org_id) != log_devices(current):
        raise LogMismatch(f"devices of organisation {org_id} differ from its key log")


PROVENANCE = {  # how a device entered the log, for the admin page (Dutch)
    "link": "eerste apparaat, via een aanmeldlink",
    "contact": "eerste apparaat, via een link van de intern begeleider",
    "approved": "goedgekeurd door een eigen ander apparaat",
    "migrated": "al aangemeld vóór de sleutellijst",
}


def provenance(db: Store, org_id: str | None) -> dict[str, str]:
    """{device id: how it was added} from the organisation's log (none for instance admins)."""
    if org_id is None:
        return {}
    return {
        e["device"]: PROVENANCE[e["how"]]
        for e in entries(db, org_id)
        if e["kind"] == "device_added"
    }


# --- the genesis prefix --------------------------------------------------------------------


def ensure_genesis(db: Store, now: float) -> int:
    """Once per database: a log for every organisation whose people and devices existed before
    the key log, by "server" (docs/keylog.md, `migrated`). Returns the entries written."""
    if meta_get(db, GENESIS_DONE):
        return 0
    count = 0
    with db.transaction():
        for (org_id,) in db.execute("SELECT id FROM orgs ORDER BY created_at, id").fetchall():
            if not entries(db, org_id):
                count += _genesis(db, org_id, now)
        meta_set(db, GENESIS_DONE, "1")
    return count


def _genesis(db: Store, org_id: str, now: float) -> int:
    people = db.execute(
        "SELECT id, role FROM people WHERE org_id = ? AND revoked_at IS NULL "
        "ORDER BY created_at, id",
        [org_id],
    ).fetchall()
    count, current = 0, keylog.State(org_id)
    for person_id, role in people:
        current = append(
            db, org_id, "person_added", "server", now, check=False, person=person_id, role=role
        )
        devices = db.execute(
            "SELECT id, public_key, sig_key FROM devices WHERE person_id = ? "
            "AND revoked_at IS NULL AND pending = 0 ORDER BY created_at, id",
            [person_id],
        ).fetchall()
        for device_id, enc_key, sig_key in devices:
            fields = device_fields(person_id, device_id, enc_key, sig_key)
            current = append(
                db, org_id, "device_added", "server", now, check=False, how="migrated", **fields
            )
        count += 1 + len(devices)
    check_devices(db, org_id, current)
    return count


def device_fields(
    person_id: str, device_id: str, enc_key: bytes, sig_key: bytes | None
) -> dict[str, Any]:
    return {
        "person": person_id,
        "device": device_id,
        "enc_key": b64u_encode(enc_key),
        "sig_key": b64u_encode(sig_key or b""),
    }


# --- heads ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)  # every school of the country, with room
def _signed(key: ec.EllipticCurvePrivateKey, org_id: str, size: int, last: str) -> str:
    # A head changes only with its log: sign each once, not on every request for the heads.
    return str(keylog.sign_head(key, {"org": org_id, "size": size, "hash": last})["sig"])


def head(key: ec.EllipticCurvePrivateKey, org_id: str, size: int, last: str) -> dict[str, Any]:
    return {"org": org_id, "size": size, "hash": last, "sig": _signed(key, org_id, size, last)}


def all_heads(db: Store, key: ec.EllipticCurvePrivateKey) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT o.id, k.seq, k.hash FROM orgs o LEFT JOIN keylog k ON k.org_id = o.id "
        "AND k.seq = (SELECT max(seq) FROM keylog WHERE org_id = o.id) ORDER BY o.id"
    ).fetchall()
    return [
        head(key, org_id, 0, keylog.ZERO) if seq is None else head(key, org_id, seq + 1, last)
        for org_id, seq, last in rows
    ]


def public_log(db: Store, key: ec.EllipticCurvePrivateKey, org_id: str) -> dict[str, Any]:
    """The org's entries and the signed head that names the last of them."""
    found = entries(db, org_id)
    plain = keylog.chain_head(org_id, found)
    return {
        "org": org_id,
        "entries": found,
        "head": head(key, org_id, plain["size"], plain["hash"]),
    }
