"""Personal data of staff: how long the directory keeps it, and a person's access and erasure.

Every rule here is stated per column in docs/gegevens.md. Signal data has its own rules in the
lifecycle and the timers (envelopes at every step, status rows after the status retention).
Deletes go through db.erase, so secure_delete and the WAL truncation cover names, labels and
push endpoints as they cover envelopes.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from server import adminlog
from server.clock import AMSTERDAM
from server.db import Store


def _ids(db: Store, sql: str, params: list[Any]) -> list[str]:
    return [r[0] for r in db.execute(sql, params).fetchall()]


# --- erasure -------------------------------------------------------------------------------


def erase_device(db: Store, device_id: str) -> int:
    """Every row of one device: its envelopes, pushes, the link it enrolled with, itself.
    Call inside a transaction."""
    count = db.erase("DELETE FROM envelopes WHERE device_id = ?", [device_id])
    count += db.erase("DELETE FROM outbox WHERE device_id = ?", [device_id])
    count += db.erase("DELETE FROM enrol_tokens WHERE device_id = ?", [device_id])
    count += db.erase("UPDATE admin_log SET device_id = NULL WHERE device_id = ?", [device_id])
    return count + db.erase("DELETE FROM devices WHERE id = ?", [device_id])


def erase_person(db: Store, person_id: str) -> int:
    """Everything held about one person, so that no row names or points to them any more:
    devices, enrolment links (theirs, and their name on links they made), their place in
    signals' status rows, their ids in the audit trail (acts by or about them stay, with their
    role, and show "(verwijderd)"), and the person. Call inside a transaction."""
    devices = _ids(db, "SELECT id FROM devices WHERE person_id = ?", [person_id])
    count = sum(erase_device(db, device_id) for device_id in devices)
    count += db.erase("DELETE FROM enrol_tokens WHERE person_id = ?", [person_id])
    count += db.erase("UPDATE enrol_tokens SET created_by = NULL WHERE created_by = ?", [person_id])
    count += db.erase("DELETE FROM signal_teachers WHERE person_id = ?", [person_id])
    count += db.erase("UPDATE signals SET acted_by = NULL WHERE acted_by = ?", [person_id])
    count += db.erase("UPDATE admin_log SET person_id = NULL WHERE person_id = ?", [person_id])
    count += db.erase(
        "UPDATE admin_log SET actor_id = NULL WHERE actor_kind = 'person' AND actor_id = ?",
        [person_id],
    )
    return count + db.erase("DELETE FROM people WHERE id = ?", [person_id])


# --- retention -----------------------------------------------------------------------------


def local_date(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).astimezone(AMSTERDAM).date().isoformat()


def sweep(db: Store, now: float) -> int:
    """What no retention period covers, removed on every timers pass (inside its transaction);
    the directory's retention rules themselves are timers (server/timers.py)."""
    # A subscription the push service gave up (404/410) can never be used again.
    count = db.erase(
        "UPDATE devices SET push = NULL WHERE push_state = 'gone' AND push IS NOT NULL", []
    )
    # Deadlines are computed at sending, from today on: past free days are never read again.
    return count + int(
        db.execute("DELETE FROM free_days WHERE day < ?", [local_date(now)]).rowcount
    )


# --- access --------------------------------------------------------------------------------


def _rows(db: Store, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in db.execute(sql, params).fetchall()]


def _push_service(subscription: str | None) -> str | None:
    """Only the push service's host: the full endpoint is a capability, shown to nobody."""
    if not subscription:
        return None
    endpoint: str = json.loads(subscription).get("endpoint", "")
    return urlsplit(endpoint).hostname


def person_record(db: Store, person_id: str) -> dict[str, Any] | None:
    """Everything held about one person, for an access request (AVG art. 15), without any
    signal content: the person, their devices, enrolment links, pushes and the signals they
    acted on or received (reference, state and times only)."""
    person = db.execute(
        "SELECT p.id, p.name, p.role, p.class_label, p.org_id, p.created_at, "
        "p.revoked_at, o.name AS org_name FROM people p LEFT JOIN orgs o "
        "ON o.id = p.org_id WHERE p.id = ?",
        [person_id],
    ).fetchone()
    if person is None:
        return None
    devices = _rows(
        db,
        "SELECT id, label, push_state, push, push_failing_since, key_state, "
        "created_at, last_seen_at, revoked_at, (SELECT count(*) FROM envelopes "
        "e WHERE e.device_id = devices.id) AS envelopes_waiting FROM devices "
        "WHERE person_id = ? ORDER BY created_at",
        [person_id],
    )
    for device in devices:
        device["push_service"] = _push_service(device.pop("push"))
    return {
        "person": dict(person),
        "devices": devices,
        "enrol_links": _rows(
            db,
            "SELECT created_at, expires_at, spent_at, device_id, "
            "(SELECT name FROM people WHERE id = created_by) AS made_by "
            "FROM enrol_tokens WHERE person_id = ? ORDER BY created_at",
            [person_id],
        ),
        "enrol_links_made": _scalar(
            db, "SELECT count(*) FROM enrol_tokens WHERE created_by = ?", [person_id]
        ),
        "pushes": _rows(
            db,
            "SELECT o.created_at, o.kind, o.state, o.device_id FROM outbox o "
            "JOIN devices d ON d.id = o.device_id WHERE d.person_id = ? "
            "ORDER BY o.created_at",
            [person_id],
        ),
        "signals_acted_on": _rows(
            db,
            "SELECT ref, state, sent_at, ended_at, close_reason "
            "FROM signals WHERE acted_by = ? ORDER BY sent_at",
            [person_id],
        ),
        "admin_acts": adminlog.of_person(db, person_id),
        "signals_received": _rows(
            db,
            "SELECT s.ref, s.state, s.sent_at, t.viewed_at FROM "
            "signal_teachers t JOIN signals s ON s.id = t.signal_id "
            "WHERE t.person_id = ? ORDER BY s.sent_at",
            [person_id],
        ),
    }


def _scalar(db: Store, sql: str, params: list[Any]) -> int:
    row: sqlite3.Row = db.execute(sql, params).fetchone()
    return int(row[0])
