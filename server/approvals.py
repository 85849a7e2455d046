"""A person's devices decide about new ones (docs/keylog.md): pending devices, approval by a
sibling's signature, declining, a sibling's revocation, and an admin's (or contact's) reset.

Each change is one transaction with its key log entry (server/orglog.py).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from server import adminlog, directory, keylog, orglog
from server.db import Store
from server.envelope import b64u_encode
from server.errors import Conflict, Invalid, NotFound

NOT_PENDING = NotFound("not_pending")
NOT_SIBLING = NotFound("not_your_device")
NO_SIGNING_KEY = Conflict("no_signing_key")
BAD_APPROVAL = Invalid("bad_approval")


def code_of(enc_key: bytes, sig_key: bytes | None) -> str:
    if not sig_key:
        return ""
    return keylog.comparison_code(b64u_encode(enc_key), b64u_encode(sig_key))


def _pending_rows(db: Store, person_id: str) -> list[sqlite3.Row]:
    return db.execute(
        "SELECT id, label, public_key, sig_key, created_at FROM devices WHERE person_id = ? "
        "AND pending = 1 AND revoked_at IS NULL ORDER BY created_at",
        [person_id],
    ).fetchall()


def pending_devices(db: Store, person_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "label": r["label"],
            "enc_key": b64u_encode(r["public_key"]),
            "sig_key": b64u_encode(r["sig_key"]),
            "created_at": r["created_at"],
            "code": code_of(r["public_key"], r["sig_key"]),
        }
        for r in _pending_rows(db, person_id)
    ]


def _pending(db: Store, person_id: str, device_id: str) -> sqlite3.Row:
    for row in _pending_rows(db, person_id):
        if row["id"] == device_id:
            return row
    raise NOT_PENDING


def approve(
    db: Store,
    approver: str,
    person_id: str,
    org_id: str,
    device_id: str,
    approval: str,
    now: float,
) -> None:
    """The approver (an active device of the same person) signed the new device's keys; the
    server checks the signature as every client will, then the device enters the log."""
    with db.transaction():
        row = _pending(db, person_id, device_id)
        fields = orglog.device_fields(person_id, device_id, row["public_key"], row["sig_key"])
        statement = keylog.approval_statement(
            org_id, person_id, device_id, fields["enc_key"], fields["sig_key"]
        )
        log = orglog.state(db, org_id)
        sig_key = log.devices[approver].sig_key if approver in log.devices else ""
        if not sig_key:
            raise NO_SIGNING_KEY
        if not keylog.verify(sig_key, statement, approval):
            raise BAD_APPROVAL
        db.execute("UPDATE devices SET pending = 0 WHERE id = ?", [device_id])
        adminlog.record(
            db, "device_approved", orglog.by_device(approver), now, person_id, device_id
        )
        orglog.append(
            db,
            org_id,
            "device_added",
            orglog.by_device(approver),
            now,
            current=log,
            how="approved",
            approver=approver,
            approval=approval,
            **fields,
        )


def decline(db: Store, device: str, person_id: str, device_id: str, now: float) -> None:
    """A declined device stays dead: revoked, never in the log. `device`: the person's device
    that declined it."""
    with db.transaction():
        _pending(db, person_id, device_id)
        by = orglog.by_device(device)
        directory.revoke_device(db, device_id, now, by=by, act="device_declined")


def revoke_sibling(db: Store, device: str, person_id: str, sibling: str, now: float) -> None:
    """ "Dit was ik niet — blokkeer dit apparaat": a person's own device ends another of theirs."""
    row = db.execute(
        "SELECT 1 FROM devices WHERE id = ? AND person_id = ? AND revoked_at IS NULL",
        [sibling, person_id],
    ).fetchone()
    if row is None or sibling == device:
        raise NOT_SIBLING
    directory.revoke_device(db, sibling, now, by=orglog.by_device(device))


def reset_person(db: Store, person: sqlite3.Row, by: str, now: float) -> None:
    """A lost or wiped phone: one `person_reset` entry ends every device of the person (pending
    ones too), so the next may again be a first device: never one beside a working phone."""
    if person["org_id"] is None or person["revoked_at"] is not None:
        raise Conflict("no_reset")
    with db.transaction():
        directory.revoke_person_devices(db, person["id"], now)
        orglog.append(db, person["org_id"], "person_reset", by, now, person=person["id"])
        adminlog.record(db, "person_reset", by, now, person["id"])


def revoked_reason(db: Store, device_id: str) -> str:
    """Why a device that still holds its credential no longer works: the variant of the
    `not_enrolled` message (server/web.py ERRORS)."""
    row = db.execute(
        "SELECT d.pending, d.key_state, d.person_id, p.org_id, p.revoked_at FROM devices d "
        "JOIN people p ON p.id = d.person_id WHERE d.id = ?",
        [device_id],
    ).fetchone()
    if row is None:
        return "revoked"
    if row["pending"]:
        return "declined"
    if row["revoked_at"] is not None:
        return "person_revoked"
    kind = _ending_entry(db, row["org_id"], row["person_id"], device_id)
    return "reset" if kind == "person_reset" else "revoked"


def _ending_entry(db: Store, org_id: str | None, person_id: str, device_id: str) -> str | None:
    if org_id is None:
        return None
    row = db.execute(
        "SELECT json_extract(entry, '$.kind') FROM keylog WHERE org_id = ? "
        "AND json_extract(entry, '$.person') = ? AND (json_extract(entry, '$.kind') = "
        "'person_reset' OR json_extract(entry, '$.device') = ?) ORDER BY seq DESC LIMIT 1",
        [org_id, person_id, device_id],
    ).fetchone()
    return None if row is None else str(row[0])
