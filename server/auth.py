"""Enrolment, device credentials, API keys, roles and rate limits; free of HTTP (reading
them from a request and `@requires` are in server/access.py).

A device credential is `<device id>.<secret>` in the `__Host-hwc` cookie; the server keeps only
SHA-256 of the secret and compares it in constant time. Enrolment tokens are itsdangerous-signed
ids of a row that can be spent once; the row keeps only the id's hash.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from server import adminlog, orglog, push
from server.db import Store
from server.envelope import b64u_decode, b64u_encode
from server.errors import Conflict, Invalid, Limited

COOKIE = "__Host-hwc"
COOKIE_MAX_AGE = 400 * 24 * 3600  # browsers cap cookie lifetime at 400 days
LAST_SEEN_EVERY = 60.0
# A link stays usable this long by another device while the device it enrolled never came back
# with its credential (a browser that dropped the cookie); that device is then replaced.
ENROL_RETRY_SECONDS = 600
ROLES = ("admin", "sender", "contact", "teacher", "officer")


def new_id() -> str:
    """16 random bytes, base64url: the form of every id the server makes."""
    return b64u_encode(secrets.token_bytes(16))


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class Actor:
    """Who is calling: a person's device, or an organisation's API key."""

    role: str
    org_id: str | None
    org_kind: str | None
    person_id: str | None = None
    person_name: str = ""
    device_id: str | None = None
    public_key: bytes = b""
    region_id: str | None = None  # a region admin's region (server/scope.py)


# --- enrolment tokens ----------------------------------------------------------------------


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="hwc-enrol")


def stored_token_id(token_id: str) -> str:
    """What the database keeps of a token's id: its hash. A backup holds the signing key, so
    an id in clear there would let its holder sign a working link."""
    return b64u_encode(secret_hash(token_id))


def make_enrol_token(
    db: Store,
    secret_key: str,
    person_id: str,
    created_by: str | None,
    now: float,
    days: int,
) -> str:
    token_id = new_id()
    with db.transaction():
        db.execute(
            "INSERT INTO enrol_tokens (id, person_id, created_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [stored_token_id(token_id), person_id, created_by, now, now + days * 86400],
        )
        maker = orglog.by_person(created_by) if created_by else "server"
        adminlog.record(db, "link_made", maker, now, person_id)
    return _serializer(secret_key).dumps(token_id)


def enrol_link(base_url: str, token: str) -> str:
    # The token rides in the fragment: never sent in a request line, so never in a log.
    return f"{base_url.rstrip('/')}/aanmelden#{token}"


TOKEN_REFUSED = Invalid("token_invalid")


def token_id(secret_key: str, token: str, max_age_days: int) -> str | None:
    """The id in a token this server signed that has not expired; None for anything else."""
    try:
        return str(_serializer(secret_key).loads(token, max_age=max_age_days * 86400))
    except (SignatureExpired, BadSignature):
        return None


KEY_TAKEN = Conflict("key_in_use")


def public_key_from_b64u(text: str) -> bytes:
    """A P-256 public key as 65-byte uncompressed point; refused unless it is on the curve."""
    try:
        raw = b64u_decode(text)
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise Invalid("bad_public_key") from None
    return raw


PENDING_PUSH_TTL = 24 * 3600.0  # a "new device" push older than a day is not worth showing
TWO_PENDING = Conflict("two_pending")
# The token is free, or spent moments ago on a device that never came back with its credential.
CLAIM_ENROL_LINK = """
UPDATE enrol_tokens SET spent_at = :now, device_id = :device
WHERE id = :id AND expires_at > :now
  AND person_id IN (SELECT id FROM people WHERE revoked_at IS NULL)
  AND (spent_at IS NULL OR (spent_at > :now - :retry AND device_id IN
       (SELECT id FROM devices WHERE last_seen_at IS NULL AND revoked_at IS NULL)))
RETURNING person_id, created_by
"""


@dataclass(frozen=True)
class NewDevice:
    public_key: bytes
    sig_key: bytes
    label: str
    push: str | None


@dataclass(frozen=True)
class Enrolled:
    device_id: str
    credential: str  # the cookie's value
    replaced: str | None  # the device this link enrolled before, whose browser never came back


def enrol_device(db: Store, token_id: str, device: NewDevice, now: float) -> Enrolled:
    """Spend the (verified) token and make the device, seen only once it uses its credential.

    A person who has an active device in their organisation's key log gets a pending device,
    which that device must approve (docs/keylog.md); a first device enters the log at once. A
    device this link enrolled before whose browser never came back ends first (with its log
    entry), so the retry is a first device again, not one beside it.
    """
    device_id = new_id()
    secret = secrets.token_urlsafe(32)
    stored = stored_token_id(token_id)
    with db.transaction():
        before = db.execute("SELECT device_id FROM enrol_tokens WHERE id = ?", [stored]).fetchone()
        row = db.execute(
            CLAIM_ENROL_LINK,
            {"now": now, "device": device_id, "id": stored, "retry": ENROL_RETRY_SECONDS},
        ).fetchone()
        if row is None:
            raise TOKEN_REFUSED
        person_id, created_by = row
        replaced = before[0] if before and before[0] else None
        if replaced is not None:
            from server import directory  # directory builds on auth

            directory.revoke_device(db, replaced, now)
        org_id = orglog.person_org(db, person_id)
        log = orglog.state(db, org_id) if org_id else None
        _check_new_keys(db, device, log)
        pending = log is not None and bool(log.active_devices(person_id))
        if pending and _refuse_second_pending(db, person_id, now):
            refused = True
        else:
            refused = False
            _insert_device(db, device_id, person_id, device, secret_hash(secret), now, pending)
            adminlog.record(db, "enrolled", orglog.by_person(person_id), now, person_id, device_id)
            if pending and log is not None:  # the person's own devices are asked, neutrally
                siblings = log.active_devices(person_id)
                push.enqueue(db, siblings, None, "device_pending", now + PENDING_PUSH_TTL, now)
            if log is not None and not pending:
                how, by = _link_maker(db, created_by)
                fields = orglog.device_fields(
                    person_id, device_id, device.public_key, device.sig_key
                )
                orglog.append(
                    db, str(org_id), "device_added", by, now, current=log, how=how, **fields
                )
    if refused:  # after the commit: the other pending device stays refused
        raise TWO_PENDING
    return Enrolled(device_id, f"{device_id}.{secret}", replaced)


def _check_new_keys(db: Store, device: NewDevice, log: Any) -> None:
    keys = (device.public_key, device.sig_key)
    seen = db.execute(
        "SELECT 1 FROM devices WHERE public_key IN (?, ?) OR sig_key IN (?, ?)", [*keys, *keys]
    ).fetchone()
    in_log = log is not None and bool({b64u_encode(k) for k in keys} & log.keys)
    if seen or in_log or device.public_key == device.sig_key:
        raise KEY_TAKEN  # rolls back: the token is not spent


def _refuse_second_pending(db: Store, person_id: str, now: float) -> bool:
    """Two devices waiting for one person are refused together: a short comparison code can
    be ground by a server that tries many keys, one waiting device at a time cannot."""
    waiting = db.execute(
        "UPDATE devices SET revoked_at = ?, push = NULL WHERE person_id = ? AND pending = 1 "
        "AND revoked_at IS NULL RETURNING id",
        [now, person_id],
    ).fetchall()
    for (device_id,) in waiting:
        adminlog.record(db, "device_revoked", "server", now, person_id, device_id)
    return bool(waiting)


def _link_maker(db: Store, created_by: str | None) -> tuple[str, str]:
    """`how` and `by` of a first device, from who made the enrolment link."""
    if created_by is None:
        return "link", "server"
    row = db.execute("SELECT role FROM people WHERE id = ?", [created_by]).fetchone()
    if row is not None and row[0] == "contact":
        return "contact", orglog.by_person(created_by)
    if row is not None and row[0] == "admin":
        return "link", orglog.by_admin(created_by)
    return "link", orglog.by_person(created_by)


def _insert_device(
    db: Store,
    device_id: str,
    person_id: str,
    device: NewDevice,
    credential_hash: bytes,
    now: float,
    pending: bool,
) -> None:
    db.execute(
        "INSERT INTO devices (id, person_id, label, public_key, sig_key, credential_hash, push, "
        "push_state, created_at, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            device_id,
            person_id,
            device.label,
            device.public_key,
            device.sig_key,
            credential_hash,
            device.push,
            "active" if device.push else "none",
            now,
            int(pending),
        ],
    )


# --- resolving the caller ------------------------------------------------------------------

DEVICE_QUERY = """
SELECT d.id, d.credential_hash, d.public_key, d.last_seen_at, p.id AS person_id, p.name,
       p.role, p.org_id, p.region_id, o.kind AS org_kind
FROM devices d JOIN people p ON p.id = d.person_id LEFT JOIN orgs o ON o.id = p.org_id
WHERE d.id = ? AND d.revoked_at IS NULL AND p.revoked_at IS NULL AND d.pending = 0
"""


def _credential_row(db: Store, credential: str, where: str) -> sqlite3.Row | None:
    """The device of a credential whose secret matches, among rows that satisfy `where`."""
    device_id, _, secret = credential.partition(".")
    if not secret:
        return None
    row: sqlite3.Row | None = db.execute(
        f"SELECT id, credential_hash FROM devices WHERE id = ? AND {where}",  # noqa: S608
        [device_id],
    ).fetchone()
    if row is None or not hmac.compare_digest(row["credential_hash"], secret_hash(secret)):
        return None
    return row


def pending_device(db: Store, credential: str) -> str | None:
    """The id of a device that waits for its person's approval, for this credential."""
    row = _credential_row(db, credential, "pending = 1 AND revoked_at IS NULL")
    return None if row is None else str(row["id"])


def revoked_device(db: Store, credential: str) -> str | None:
    row = _credential_row(db, credential, "revoked_at IS NOT NULL")
    return None if row is None else str(row["id"])


def device_actor(db: Store, credential: str, now: float) -> Actor | None:
    device_id, _, secret = credential.partition(".")
    if not secret:
        return None
    row = db.execute(DEVICE_QUERY, [device_id]).fetchone()
    if row is None or not hmac.compare_digest(row["credential_hash"], secret_hash(secret)):
        return None
    _note_use(db, "devices", device_id, row["last_seen_at"], now)
    return Actor(
        role=row["role"],
        org_id=row["org_id"],
        org_kind=row["org_kind"],
        person_id=row["person_id"],
        person_name=row["name"],
        device_id=row["id"],
        public_key=row["public_key"],
        region_id=row["region_id"],
    )


NOTE_USE = {
    "devices": "UPDATE devices SET last_seen_at = ? WHERE id = ?",
    "api_keys": "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
}


def _note_use(db: Store, table: str, row_id: str, last: float | None, now: float) -> None:
    """When a credential was last used: at most one write a minute, however many requests."""
    if last is None or now - last > LAST_SEEN_EVERY:
        with db.transaction():
            db.execute(NOTE_USE[table], [now, row_id])


# --- organisation API keys (`hwc send`, case-management systems) ----------------------------


API_KEY_KINDS = ("veilig_thuis", "leerplicht")  # the organisations that send from a system


def make_api_key(db: Store, org_id: str, label: str, now: float, by: str = "server") -> str:
    org = db.execute("SELECT kind FROM orgs WHERE id = ?", [org_id]).fetchone()
    if org is None or org[0] not in API_KEY_KINDS:
        raise Invalid("not_a_sender")
    key_id = new_id()
    secret = secrets.token_urlsafe(32)
    with db.transaction():
        db.execute(
            "INSERT INTO api_keys (id, org_id, key_hash, label, created_at) VALUES (?, ?, ?, ?, ?)",
            [key_id, org_id, secret_hash(secret), label, now],
        )
        adminlog.record_key(db, "api_key_made", by, now, org_id, key_id)
    return f"hwc_{key_id}.{secret}"


def api_key_id(key: str) -> str:
    """The id part of `hwc_<id>.<secret>`; also takes the id alone (as the admin page shows)."""
    return key.strip().removeprefix("hwc_").partition(".")[0]


def api_key_actor(db: Store, header: str, now: float) -> Actor | None:
    scheme, _, key = header.partition(" ")
    secret = key.partition(".")[2]
    if scheme.lower() != "bearer" or not secret:
        return None
    key_id = api_key_id(key)
    row = db.execute(
        "SELECT k.key_hash, k.org_id, o.kind, k.last_used_at FROM api_keys k "
        "JOIN orgs o ON o.id = k.org_id WHERE k.id = ? AND k.revoked_at IS NULL",
        [key_id],
    ).fetchone()
    if row is None or not hmac.compare_digest(row[0], secret_hash(secret)):
        return None
    _note_use(db, "api_keys", key_id, row[3], now)
    return Actor(role="sender", org_id=row[1], org_kind=row[2])


def api_keys(db: Store, org_id: str | None = None) -> list[Any]:
    """The API keys (of one organisation, or all), oldest first; never their secrets."""
    return db.execute(
        "SELECT k.id, k.label, k.created_at, k.last_used_at, k.revoked_at, o.name AS org_name "
        "FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE ? IS NULL OR k.org_id = ? "
        "ORDER BY k.created_at, k.id",
        [org_id, org_id],
    ).fetchall()


def api_key_org(db: Store, key_id: str) -> str | None:
    row = db.execute("SELECT org_id FROM api_keys WHERE id = ?", [key_id]).fetchone()
    return None if row is None else str(row[0])


def revoke_api_key(db: Store, key_id: str, now: float, by: str = "server") -> bool:
    """Revoke a key at once (the next request with it gets 401); False when there is none."""
    with db.transaction():
        row = db.execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? "
            "RETURNING org_id, revoked_at = ?",
            [now, key_id, now],
        ).fetchone()
        if row is not None and row[1]:  # revoked now, not before
            adminlog.record_key(db, "api_key_revoked", by, now, row[0], key_id)
    return row is not None


# --- rate limits ---------------------------------------------------------------------------


class RateLimiter:
    """At most `limit` events per `window` seconds per key: a burst of `limit`, then one every
    window/limit (GCRA). One number per key and constant work per event, whatever the number
    of keys; the table keeps the `capacity` keys used last. Forgetting a key can only give its
    owner a fresh start, which `capacity` other keys' worth of addresses would give them too."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 50_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.capacity = capacity
        self.interval = window / limit
        # When each key's budget is used up to; a key whose time has passed has all of it.
        self.spent_until: OrderedDict[str, float] = OrderedDict()

    def hit(self, key: str) -> None:
        now = self.clock()
        spent_until = max(self.spent_until.get(key, now), now)
        wait = spent_until + self.interval - now - self.window
        if wait > 1e-9:
            self.spent_until.move_to_end(key)  # a key held back is in use: keep it longest
            raise Limited(retry_after=max(1, math.ceil(wait)))
        self.spent_until[key] = spent_until + self.interval
        self.spent_until.move_to_end(key)
        if len(self.spent_until) > self.capacity:
            self.spent_until.popitem(last=False)


def address_key(host: str) -> str:
    """The client's address as rate limits count it: an IPv6 client by its /64, which one
    subscriber gets whole, and an IPv4-mapped address as the IPv4 address it is."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
