"""Sending systems' signing keys (issue 20 item 3; docs/keylog.md, "Sending systems"): `hwc
send` registers its key with its organisation's API key; a device of a sender or an admin of
that organisation approves it with its signature, and the key enters the organisation's key
log as `machine_added`; declining; revoking (`machine_revoked`).

An API key alone never adds a key to the log: that takes a person's logged device. Each change
is one transaction with its key log entry (server/orglog.py).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from server import adminlog, auth, keylog, orglog
from server.db import Store
from server.envelope import b64u_encode
from server.errors import Conflict, Invalid, NotFound

APPROVERS = keylog.MACHINE_APPROVERS  # the roles whose devices decide about a system's key
UNKNOWN = NotFound("unknown_machine")
NOT_PENDING = NotFound("machine_not_pending")
ENDED = Conflict("machine_key_ended")
TWO_PENDING = Conflict("two_pending_machines")
KEY_IN_USE = Conflict("machine_key_in_use")
BAD_APPROVAL = Invalid("bad_approval")
NO_SIGNING_KEY = Conflict("no_signing_key")


def _answer(row: sqlite3.Row) -> dict[str, Any]:
    sig_key = b64u_encode(row["sig_key"])
    return {
        "id": row["id"],
        "org": row["org_id"],
        "state": row["state"],
        "code": keylog.machine_code(sig_key),
    }


def _row(db: Store, where: str, params: list[Any]) -> sqlite3.Row | None:
    sql = (
        f"SELECT id, org_id, api_key_id, sig_key, state, created_at FROM machine_keys WHERE {where}"  # noqa: S608
    )
    return db.execute(sql, params).fetchone()  # type: ignore[no-any-return]


def register(db: Store, org_id: str, api_key_id: str, sig_key: str, now: float) -> dict[str, Any]:
    """A system's key, pending for the API key's organisation; the same key again: its state.
    A second key waiting beside one already waiting voids both (a code can be ground)."""
    raw = auth.public_key_from_b64u(sig_key)
    with db.transaction():
        row = _row(db, "sig_key = ?", [raw])
        if row is not None:
            if row["org_id"] != org_id:
                raise KEY_IN_USE
            if row["state"] in ("declined", "revoked"):
                raise ENDED
            return _answer(row)
        if _key_of_a_device(db, raw):
            raise KEY_IN_USE
        voided = db.execute(
            "DELETE FROM machine_keys WHERE org_id = ? AND state = 'pending' RETURNING id",
            [org_id],
        ).fetchall()
        if not voided:
            db.execute(
                "INSERT INTO machine_keys (id, org_id, api_key_id, sig_key, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [keylog.machine_device_id(sig_key), org_id, api_key_id, raw, now],
            )
            found = _row(db, "sig_key = ?", [raw])
            _record(db, "machine_registered", f"api_key:{api_key_id}", now, found)
    if voided:
        raise TWO_PENDING
    assert found is not None
    return _answer(found)


def _key_of_a_device(db: Store, raw: bytes) -> bool:
    found = db.execute(
        "SELECT 1 FROM devices WHERE sig_key = ? OR public_key = ?", [raw, raw]
    ).fetchone()
    return found is not None


def listed(db: Store, org_id: str) -> list[dict[str, Any]]:
    """The organisation's waiting and approved systems, for its senders' and admins' phones."""
    rows = db.execute(
        "SELECT m.id, m.org_id, m.sig_key, m.state, m.created_at, k.label FROM machine_keys m "
        "LEFT JOIN api_keys k ON k.id = m.api_key_id WHERE m.org_id = ? "
        "AND m.state IN ('pending', 'approved') ORDER BY m.created_at, m.id",
        [org_id],
    ).fetchall()
    return [
        _answer(r)
        | {"sig_key": b64u_encode(r["sig_key"]), "label": r["label"] or "", "at": r["created_at"]}
        for r in rows
    ]


def _machine(db: Store, org_id: str, machine_id: str, state: str) -> sqlite3.Row:
    row = _row(db, "id = ? AND org_id = ?", [machine_id, org_id])
    if row is None:
        raise UNKNOWN
    if row["state"] != state:
        raise NOT_PENDING if state == "pending" else UNKNOWN
    return row


def approve(
    db: Store, approver: str, org_id: str, machine_id: str, approval: str, now: float
) -> None:
    """The approver signed the system's key: the server checks the signature and the rules as
    every client will (keylog.apply), then the key enters the log in this transaction."""
    with db.transaction():
        row = _machine(db, org_id, machine_id, "pending")
        log = orglog.state(db, org_id)
        sig_key = log.devices[approver].sig_key if approver in log.devices else ""
        if not sig_key:
            raise NO_SIGNING_KEY
        machine_key = b64u_encode(row["sig_key"])
        statement = keylog.machine_statement(org_id, machine_id, machine_key)
        if not keylog.verify(sig_key, statement, approval):
            raise BAD_APPROVAL
        db.execute("UPDATE machine_keys SET state = 'approved' WHERE id = ?", [machine_id])
        _record(db, "machine_approved", orglog.by_device(approver), now, row)
        orglog.append(
            db,
            org_id,
            "machine_added",
            orglog.by_device(approver),
            now,
            current=log,
            device=machine_id,
            sig_key=machine_key,
            approver=approver,
            approval=approval,
        )


def decline(db: Store, by: str, org_id: str, machine_id: str, now: float) -> None:
    with db.transaction():
        row = _machine(db, org_id, machine_id, "pending")
        _end(db, machine_id, "declined", now)
        _record(db, "machine_declined", by, now, row)


def revoke(db: Store, by: str, org_id: str, machine_id: str, now: float) -> None:
    """The system's key signs nothing more that a recipient accepts."""
    with db.transaction():
        row = _machine(db, org_id, machine_id, "approved")
        _end(db, machine_id, "revoked", now)
        _record(db, "machine_revoked", by, now, row)
        orglog.append(db, org_id, "machine_revoked", by, now, device=machine_id)


def _record(db: Store, act: str, by: str, now: float, row: sqlite3.Row | None) -> None:
    """The act in the organisation's admin audit trail (server/adminlog.py)."""
    assert row is not None
    adminlog.record_machine(db, act, by, now, row["org_id"], row["api_key_id"])


def _end(db: Store, machine_id: str, state: str, now: float) -> None:
    db.execute(
        "UPDATE machine_keys SET state = ?, revoked_at = ? WHERE id = ?", [state, now, machine_id]
    )
