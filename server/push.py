"""Web push: the VAPID key and the outbox. The delivery worker lives in server/pushworker.py.

Every push is an outbox row written in the same transaction as the state change that causes
it; this module is the one place that writes them.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric import ec

from server.calendar import QuietHours
from server.db import meta_get, meta_set
from server.envelope import b64u_decode, b64u_encode
from server.web import ApiError

KINDS = ("new_signal", "teacher_signal", "reminder", "escalation", "teacher_late")
NEVER_HELD = ("escalation",)  # to the sender: Veilig Thuis works around the clock
HOLD_MARGIN = 45 * 60  # a push that quiet hours would bring closer than this to the deadline
#                        goes out at once


def send_at(kind: str, own: str | None, quiet: QuietHours | None, now: float,
            deadline_at: float | None) -> float:
    """When a push of `kind` goes out: at the end of the device's quiet hours (its own, else
    the default `quiet`) when `now` falls in them, unless that leaves less than HOLD_MARGIN
    before the deadline."""
    hours = quiet if own is None else QuietHours.parse(own)
    moment = datetime.fromtimestamp(now, UTC)
    if kind in NEVER_HELD or hours is None or not hours.contains(moment):
        return now
    end = hours.end_after(moment).timestamp()
    if deadline_at is not None and end > deadline_at - HOLD_MARGIN:
        return now
    return end


def first_send_at(db: sqlite_utils.Database, device_ids: list[str], now: float,
                  quiet: QuietHours | None, deadline_at: float) -> float:
    """When the first of these devices would get a new signal's push (what the sender is told);
    `now` when none has notifications on: then nothing waits either."""
    return min((send_at("new_signal", own, quiet, now, deadline_at)
                for _, own in _pushable(db, device_ids)), default=now)


def _pushable(db: sqlite_utils.Database, device_ids: list[str]) -> list[tuple[str, str | None]]:
    """(id, own quiet hours) of those devices that have a live subscription."""
    rows = db.execute(
        "SELECT id, quiet_hours FROM devices WHERE id IN (SELECT value FROM json_each(?)) "
        "AND push_state = 'active' AND revoked_at IS NULL", [json.dumps(device_ids)]).fetchall()
    return [(r[0], r[1]) for r in rows]


def enqueue(db: sqlite_utils.Database, device_ids: list[str], signal_id: str | None, kind: str,
            expires_at: float, now: float, quiet: QuietHours | None = None,
            deadline_at: float | None = None) -> None:
    """Queue one push per device that has a live subscription (call inside the transaction),
    each due when its quiet hours allow (`send_at`), and wake the delivery worker: its sends
    wait until this transaction is on disk."""
    assert kind in KINDS, kind
    devices = _pushable(db, device_ids)
    due: dict[str | None, float] = {}  # by the device's own quiet hours: most have none
    for _, own in devices:
        if own not in due:
            due[own] = send_at(kind, own, quiet, now, deadline_at)
    db.conn.executemany(
        "INSERT INTO outbox (device_id, signal_id, kind, expires_at, due_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(device_id, signal_id, kind, expires_at, due[own], now) for device_id, own in devices])
    queued = len(devices)
    wake = db.__dict__.get("wake_push_worker")
    if queued and wake is not None:
        wake()


def wake_on_enqueue(db: sqlite_utils.Database, wake: Callable[[], None] | None) -> None:
    """Have `enqueue` on this connection call `wake` (the serving app's push worker)."""
    db.wake_push_worker = wake  # type: ignore[attr-defined]


def oldest_due_age(db: sqlite_utils.Database, now: float) -> float:
    """Seconds the oldest pending push has been due: 0 when nothing waits (readiness, metrics)."""
    oldest = db.execute("SELECT min(due_at) FROM outbox WHERE state = 'pending'").fetchone()[0]
    return 0.0 if oldest is None else max(0.0, now - oldest)


def check_endpoint(endpoint: str, base_url: str) -> None:
    """The server POSTs to this URL, so it must be a public https push service (no SSRF into
    the operator's network). A development server on loopback http accepts loopback endpoints,
    which is how the fake push service is used in tests and demos."""
    refused = ApiError(422, "bad_push_endpoint",
                       "Deze meldingendienst wordt niet geaccepteerd. Zet meldingen opnieuw aan.")
    try:
        url = urlsplit(endpoint)
        host = url.hostname or ""
    except ValueError:  # e.g. an unbalanced '[' in the host
        raise refused from None
    if _is_loopback(urlsplit(base_url).hostname or "") and _is_loopback(host):
        return
    if url.scheme != "https" or not host or _is_internal(host):
        raise refused


def _is_loopback(host: str) -> bool:
    address = _ip(host)
    return host == "localhost" or (address is not None and address.is_loopback)


def _is_internal(host: str) -> bool:
    address = _ip(host)
    if address is None:
        return host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
    return not address.is_global


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def vapid_private_key(db: sqlite_utils.Database, configured: str) -> ec.EllipticCurvePrivateKey:
    """The VAPID key from settings, else the one kept in the database, made on first start."""
    raw = configured or meta_get(db, "vapid_private_key")
    if not raw:
        key = ec.generate_private_key(ec.SECP256R1())
        raw = b64u_encode(key.private_numbers().private_value.to_bytes(32, "big"))
        meta_set(db, "vapid_private_key", raw)
    return ec.derive_private_key(int.from_bytes(b64u_decode(raw), "big"), ec.SECP256R1())


def application_server_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The public VAPID key as browsers want it: base64url of the 65-byte uncompressed point."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return b64u_encode(key.public_key().public_bytes(Encoding.X962,
                                                     PublicFormat.UncompressedPoint))
