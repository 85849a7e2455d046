"""Web push: the VAPID key, the outbox, and which push endpoints the server may call (SSRF).
The delivery worker lives in server/pushworker.py.

Every push is an outbox row written in the same transaction as the state change that causes
it; this module is the one place that writes them.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from cryptography.hazmat.primitives.asymmetric import ec

from server.calendar import QuietHours
from server.db import Store, meta_get, meta_set
from server.envelope import b64u_decode, b64u_encode
from server.errors import Invalid
from server.settings import Settings

# device_pending: a new device waits for this person's approval (docs/keylog.md).
KINDS = ("new_signal", "teacher_signal", "reminder", "escalation", "teacher_late", "device_pending")
NEVER_HELD = ("escalation",)  # to the sender: Veilig Thuis works around the clock
HOLD_MARGIN = 45 * 60  # a push that quiet hours would bring closer than this to the deadline
#                        goes out at once


def send_at(
    kind: str, own: str | None, quiet: QuietHours | None, now: float, deadline_at: float | None
) -> float:
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


def first_send_at(
    db: Store,
    device_ids: list[str],
    now: float,
    quiet: QuietHours | None,
    deadline_at: float,
) -> float:
    """When the first of these devices would get a new signal's push (what the sender is told);
    `now` when none has notifications on: then nothing waits either."""
    return min(
        (
            send_at("new_signal", own, quiet, now, deadline_at)
            for _, own in _pushable(db, device_ids)
        ),
        default=now,
    )


def _pushable(db: Store, device_ids: list[str]) -> list[tuple[str, str | None]]:
    """(id, own quiet hours) of those devices that have a live subscription."""
    rows = db.execute(
        "SELECT id, quiet_hours FROM devices WHERE id IN (SELECT value FROM json_each(?)) "
        "AND push_state = 'active' AND revoked_at IS NULL",
        [json.dumps(device_ids)],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def enqueue(
    db: Store,
    device_ids: list[str],
    signal_id: str | None,
    kind: str,
    expires_at: float,
    now: float,
    quiet: QuietHours | None = None,
    deadline_at: float | None = None,
) -> None:
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
        [(device_id, signal_id, kind, expires_at, due[own], now) for device_id, own in devices],
    )
    queued = len(devices)
    if queued:
        db.push_queued()


def oldest_due_age(db: Store, now: float) -> float:
    """Seconds the oldest pending push has been due: 0 when nothing waits (readiness, metrics)."""
    oldest = db.execute("SELECT min(due_at) FROM outbox WHERE state = 'pending'").fetchone()[0]
    return 0.0 if oldest is None else max(0.0, now - oldest)


FAILING_LONG = 3600.0  # the admin is shown devices whose pushes have failed at least this long


def failing_devices(db: Store, since: float) -> list[dict]:
    """Live devices whose pushes have all failed since `since` or earlier (never an endpoint)."""
    rows = db.execute(
        "SELECT d.id AS device_id, d.label, d.push_failing_since AS since, p.name AS person, "
        "p.role, o.id AS org_id, o.name AS org_name FROM devices d "
        "JOIN people p ON p.id = d.person_id LEFT JOIN orgs o ON o.id = p.org_id "
        "WHERE d.push_failing_since <= ? AND d.push_state = 'active' "
        "AND d.revoked_at IS NULL ORDER BY d.push_failing_since",
        [since],
    ).fetchall()
    return [dict(row) for row in rows]


def check_endpoint(endpoint: str, policy: EndpointPolicy) -> None:
    """Refuse a subscription whose endpoint the server may not POST to (no SSRF into the
    operator's network); the worker checks again before every push."""
    if not policy.allows_url(endpoint):
        raise Invalid("bad_push_endpoint")


class RefusedAddress(OSError):
    """A push service's name resolved to an address the server may not call."""


# Names that never belong to a push service on the internet (RFC 6761, 6762, 8375, ICANN).
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet")
DNS_NAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*")
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
REFUSED_V6 = (
    ipaddress.ip_network("::/96"),  # IPv4-compatible, deprecated
    ipaddress.ip_network("64:ff9b:1::/48"),
)  # RFC 8215: local-use NAT64


@dataclass(frozen=True)
class EndpointPolicy:
    """Which push endpoints the server may call (HWC_PUSH_HOSTS), and whether loopback is one.

    A host is allowed by name: exactly, as a subdomain of a `*.` pattern, or by `*` (any
    public name or address). Loopback is allowed only for a development server that itself
    runs on loopback (the fake push service in tests and `hwc demo`).
    """

    hosts: tuple[str, ...]
    loopback: bool

    @classmethod
    def of(cls, settings: Settings) -> EndpointPolicy:
        base = yarl.URL(settings.base_url).raw_host or ""
        return cls(tuple(settings.push_hosts.lower().split()), _is_loopback(base))

    def allows_url(self, endpoint: str) -> bool:
        """The URL as aiohttp will read it (yarl): scheme, no user info, port and host."""
        try:
            url = yarl.URL(endpoint)
        except (ValueError, TypeError):
            return False
        host = url.raw_host or ""
        if url.user is not None or url.password is not None or not url.absolute:
            return False
        if self.loopback and url.scheme in ("http", "https") and _is_loopback(host):
            return True
        if url.scheme != "https" or url.explicit_port not in (None, 443):
            return False
        if _is_numeric(host):  # only a canonical public address, and only when "*" allows it
            address = _address(host)
            return "*" in self.hosts and address is not None and self.allows_address(address)
        return DNS_NAME.fullmatch(host) is not None and self._listed(host)

    def _listed(self, host: str) -> bool:
        return any(
            host == pattern
            or (pattern.startswith("*.") and host.endswith(pattern[1:]))
            or (pattern == "*" and "." in host and not host.endswith(INTERNAL_SUFFIXES))
            for pattern in self.hosts
        )

    def allows_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """Every address a push service name resolves to must pass, in every IPv6 form that
        carries an IPv4 address (mapped, NAT64, 6to4)."""
        if self.loopback and address.is_loopback:
            return True
        if isinstance(address, ipaddress.IPv6Address):
            embedded = address.ipv4_mapped or address.sixtofour or _nat64(address)
            if embedded is not None:
                return self.allows_address(embedded)
            if any(address in network for network in REFUSED_V6):
                return False
        return address.is_global and not address.is_multicast


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None


class CheckedResolver(AbstractResolver):
    """Resolves like aiohttp's own resolver and hands the connector only addresses the policy
    allows, so the address checked is the address connected to (no second lookup)."""

    def __init__(self, policy: EndpointPolicy) -> None:
        self._policy = policy
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        # One internal address among public ones is refused too: no push service has one.
        if not results or not all(self._allows(r["host"]) for r in results):
            raise RefusedAddress("push service address not allowed")
        return results

    def _allows(self, resolved: str) -> bool:
        address = _address(resolved)
        return address is not None and self._policy.allows_address(address)

    async def close(self) -> None:
        await self._resolver.close()


def checked_connector(
    policy: EndpointPolicy, limit: int, limit_per_host: int
) -> aiohttp.TCPConnector:
    """The worker's connector: only checked addresses (call inside the event loop)."""
    return aiohttp.TCPConnector(
        limit=limit, limit_per_host=limit_per_host, resolver=CheckedResolver(policy)
    )


def _is_loopback(host: str) -> bool:
    address = _address(host)
    return host == "localhost" or (address is not None and address.is_loopback)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host literally is, in its canonical spelling only."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_numeric(host: str) -> bool:
    """Any spelling a resolver reads as an address: 127.1, 0x7f000001, 2130706433, 0, [::1]."""
    if ":" in host or host.replace(".", "").isdigit():
        return True
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def vapid_private_key(db: Store, configured: str) -> ec.EllipticCurvePrivateKey:
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

    return b64u_encode(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
