"""Device key rotation (issue 20 item 4; docs/keylog.md, `key_rotated`): a device announces a
new ECDH key signed with its own signing key, and learns when it may destroy an old private key.

Senders seal to the newest key (the log's derived state); a key copied from a phone after its
old private keys are gone opens nothing sent before the rotation.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from server import keylog, orglog
from server.db import Store
from server.envelope import b64u_decode
from server.errors import Conflict, Invalid, Refused
from server.policy import ROTATION_RACE_SECONDS, Timing

NOT_OWN_DEVICE = Refused("not_own_device")
NO_SIGNING_KEY = Conflict("no_signing_key", variant="rotate")
KEY_REUSED = Conflict("key_reused")
BAD_SIGNATURE = Invalid("bad_rotation")
BAD_KEY = Invalid("bad_public_key")


def rotate_key(
    db: Store,
    device_id: str,
    person_id: str,
    org_id: str,
    enc_key: str,
    signature: str,
    now: float,
) -> dict[str, Any]:
    """The device's new key: checked as every client will check it, then in the devices table
    and the log in one transaction (the server's recipients stay the log's)."""
    if not keylog.is_key(enc_key):
        raise BAD_KEY
    with db.transaction():
        log = orglog.state(db, org_id)
        device = log.devices.get(device_id)
        if device is None or not device.sig_key:
            raise NO_SIGNING_KEY
        if enc_key in log.keys:
            raise KEY_REUSED
        statement = keylog.rotation_statement(org_id, person_id, device_id, enc_key)
        if not keylog.verify(device.sig_key, statement, signature):
            raise BAD_SIGNATURE
        try:
            db.execute(
                "UPDATE devices SET public_key = ? WHERE id = ?", [b64u_decode(enc_key), device_id]
            )
        except sqlite3.IntegrityError:  # another organisation's (or a pending device's) key
            raise KEY_REUSED from None
        orglog.append(
            db,
            org_id,
            "key_rotated",
            orglog.by_device(device_id),
            now,
            current=log,
            person=person_id,
            device=device_id,
            enc_key=enc_key,
            signature=signature,
        )
    return {"enc_key": enc_key, "rotated_at": _iso(now)}


def key_history(db: Store, org_id: str, device_id: str) -> list[tuple[str, int]]:
    """The device's keys in the log, oldest first, with when each became its key."""
    rows = db.execute(
        "SELECT json_extract(entry, '$.enc_key'), json_extract(entry, '$.at') FROM keylog "
        "WHERE org_id = ? AND json_extract(entry, '$.device') = ? "
        "AND json_extract(entry, '$.kind') IN ('device_added', 'key_rotated') ORDER BY seq",
        [org_id, device_id],
    ).fetchall()
    return [(str(r[0]), int(r[1])) for r in rows]


def old_keys(
    db: Store, device_id: str, org_id: str, now: float, timing: Timing
) -> list[dict[str, Any]]:
    """The device's earlier keys that a live envelope could still need, newest first:
    {enc_key, replaced_at, needed_until}. needed_until is the latest expiry among the device's
    live envelopes stored before the replacement (plus the race margin: a sender may have
    sealed to the old key just before), or None: nothing live needs it, destroy it now."""
    history = key_history(db, org_id, device_id)
    horizon = now - timing.calendar.max_days * 86400.0 - ROTATION_RACE_SECONDS
    keys = []
    for (enc_key, _), (_, replaced_at) in zip(history, history[1:], strict=False):
        if replaced_at < horizon:
            continue  # every signal of that time has expired: nothing can need it
        until = _needed_until(db, device_id, replaced_at + ROTATION_RACE_SECONDS)
        keys.append(
            {
                "enc_key": enc_key,
                "replaced_at": _iso(replaced_at),
                "needed_until": None if until is None else _iso(until),
            }
        )
    return keys[::-1]


def _needed_until(db: Store, device_id: str, sealed_before: float) -> float | None:
    row = db.execute(
        "SELECT max(s.expires_at) FROM envelopes e JOIN signals s ON s.id = e.signal_id "
        "WHERE e.device_id = ? AND (e.sealed_at IS NULL OR e.sealed_at < ?)",
        [device_id, sealed_before],
    ).fetchone()
    return None if row[0] is None else float(row[0])


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()
