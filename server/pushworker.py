"""The push delivery worker: drains the outbox to the push services (DESIGN.md section 7).

One background task per process. It claims due outbox rows with a lease, encrypts each push
(server/webpush.py), sends it with one shared aiohttp session (slots per push service, explicit
timeout, TTL, Urgency, Topic, a VAPID header signed once per push service; only to allowed
endpoints at checked addresses, never following a redirect: server/push.py), and records each
outcome. All state is in the `outbox` table, so a restart resumes exactly where the last
process stopped.

Exactly-once in practice. A row is claimed (attempts + 1, due_at = now + lease) in one
BEGIN IMMEDIATE transaction, so two workers (threads or processes) never claim the same row,
and a row that is claimed but never marked becomes due again when the lease runs out: nothing
is ever lost; a clean stop (SIGTERM) releases its unfinished claims at once instead. If the
process dies after the push service answered 201 but before the outcome was committed, the
row is sent once more after the lease. That is at most one duplicate push, and it is
harmless: it has the same Topic (the push service replaces the undelivered copy) and the
same notification tag (the phone replaces the shown one). Outcomes are committed with
the attempt number they were claimed with, so a late answer to a claim that already expired
never overwrites a newer attempt's outcome.

Endpoints are capability URLs and payloads say which signal a device is in: neither is ever
logged, nor are subscription keys or exception texts (aiohttp puts the URL in those). Logs
carry the row id, kind and status only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

from server import webpush
from server.clock import Clock
from server.db import Store
from server.envelope import b64u_decode, b64u_encode
from server.push import EndpointPolicy, RefusedAddress, checked_connector
from server.settings import Settings
from server.tasks import TaskHealth, supervised

log = logging.getLogger("hwc.push")

# Neutral lock-screen texts per kind: never a name, never a school (DESIGN.md section 2).
TEXTS: dict[str, tuple[str, str]] = {
    "new_signal": ("Nieuw signaal", "Er is een nieuw Handle with Care-signaal. Open de app."),
    "teacher_signal": (
        "Signaal voor u",
        "Uw intern begeleider stuurt u een signaal. Open de app vóór de les.",
    ),
    "reminder": ("Herinnering", "Er wacht nog een signaal op u. Open de app."),
    "device_pending": (
        "Nieuw apparaat",
        "Een nieuw apparaat wil signalen ontvangen. Open de app om het te bekijken.",
    ),
    "escalation": (
        "Signaal niet op tijd opgepakt",
        "Een school heeft een signaal niet op tijd opgepakt. Open de app.",
    ),
    "teacher_late": (
        "Leerkracht heeft nog niet gekeken",
        "Een leerkracht heeft het signaal nog niet geopend. Open de app.",
    ),
}

# Every plaintext is padded with JSON whitespace to a multiple of this, so the encrypted body
# length (which the push service and the network see) does not tell one kind from another.
# 1 KiB holds the longest message with a base URL of several hundred characters and stays far
# below RFC 8291's 3993-byte limit for one record.
PAYLOAD_SIZE = 1024
VAPID_LIFETIME = 12 * 3600  # RFC 8292 allows at most 24 h
VAPID_RENEW_BEFORE = 3600  # re-sign this long before exp, so no request carries a stale JWT
MIN_TTL = 60  # TTL 0 drops the message for a phone that is offline at this moment
MAX_TTL = 28 * 86400  # what the big push services accept at most
# RFC 8030 section 5.3 and RFC 8188: the same on every push; TTL, Topic and VAPID are added.
PUSH_HEADERS = {"Content-Encoding": "aes128gcm", "Urgency": "high"}
GONE = frozenset({404, 410})  # RFC 8030 section 7.3: the subscription no longer exists
MAX_RETRY_AFTER = 86400.0
ORIGINS_AT_FULL_SPEED = 4  # in flight to all push services together: this many origins' slots
# Deliverable due rows, oldest first, with the origin of their endpoint (scheme://host:port,
# cut at the first '/' after '://'), leaving out given rows and origins.
PICK_DUE = """
SELECT id, CASE instr(substr(e, instr(e, '://') + 3), '/') WHEN 0 THEN e
    ELSE substr(e, 1, instr(e, '://') + 1 + instr(substr(e, instr(e, '://') + 3), '/')) END
    AS origin
FROM (SELECT o.id, o.due_at, coalesce(json_extract(d.push, '$.endpoint'), '') AS e
      FROM outbox AS o JOIN devices AS d ON d.id = o.device_id
      WHERE o.state = 'pending' AND o.due_at <= ? AND o.expires_at > ?
      AND o.id NOT IN (SELECT value FROM json_each(?))
      AND o.id NOT IN (SELECT value FROM json_each(?))
      AND d.revoked_at IS NULL AND d.push IS NOT NULL AND d.push_state = 'active'
      -- a finished, closed or expired signal's pushes are no longer wanted
      AND NOT EXISTS (SELECT 1 FROM signals AS s WHERE s.id = o.signal_id
                      AND s.ended_at IS NOT NULL))
WHERE origin NOT IN (SELECT value FROM json_each(?))
ORDER BY due_at LIMIT ?
"""
BATCH_WAIT = 0.02  # longest a finished push waits for its outcome to be committed

_jitter = random.SystemRandom()


def topic(key: bytes, device_id: str, subject: str) -> str:
    """RFC 8030 Topic (32 base64url characters): the same for every push of one signal to one
    device, so a repeat replaces the undelivered one; keyed with the server's secret and
    different per device, so the push service cannot link the recipients of one case."""
    message = f"hwc-push-topic\x00{device_id}\x00{subject}".encode()
    return b64u_encode(hmac.digest(key, message, "sha256"))[:32]


def payload(base_url: str, kind: str, signal_id: str | None) -> str:
    """The Declarative Web Push message, padded to a multiple of PAYLOAD_SIZE bytes."""
    title, body = TEXTS[kind]
    path = f"/signaal/{signal_id}" if signal_id else "/"
    message = {
        "web_push": 8030,
        "notification": {
            "title": title,
            "body": body,
            "navigate": base_url.rstrip("/") + path,
            "tag": signal_id or kind,
            "silent": False,  # iOS revokes permission for pushes that show nothing
        },
        "kind": kind,
        "signal_id": signal_id,
    }
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return text + " " * (-len(text.encode()) % PAYLOAD_SIZE)


def origin_of(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@dataclass(frozen=True)
class Job:
    """One claimed outbox row and the subscription it goes to."""

    id: int
    device_id: str
    kind: str
    signal_id: str | None
    expires_at: float
    attempts: int
    subscription: str  # devices.push as claimed; parsed only when sending
    origin: str  # the push service's, which has its own slots


@dataclass(frozen=True)
class Outcome:
    state: str  # 'sent', 'gone', 'failed', or 'pending' (retry at due_at)
    status: int | None  # HTTP status; None for a network error or timeout
    due_at: float | None = None


class PushWorker:
    """Delivers outbox rows. `async with worker:` runs it; `wake()` after enqueueing."""

    def __init__(
        self,
        db: Store,
        settings: Settings,
        clock: Clock,
        vapid_key: ec.EllipticCurvePrivateKey,
        *,
        topic_key: bytes,
        concurrency: int | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        lease: float | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        # Slots per push service origin, so a slow or hanging service never holds those of
        # the others; all origins together get a few times that.
        self.concurrency = max(1, concurrency or settings.push_concurrency)
        self.max_in_flight = ORIGINS_AT_FULL_SPEED * self.concurrency
        self.timeout = float(settings.push_timeout_seconds)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        # Another process may re-claim a row after the lease: keep it well above one request.
        self.lease = lease if lease is not None else max(30.0, 3 * self.timeout)
        self._vapid = Vapid(private_key=vapid_key)
        self._policy = EndpointPolicy.of(settings)
        self._topic_key = topic_key
        self.wall: Callable[[], float] = time.time  # real time, for JWT exp (see authorization)
        # A bad HWC_VAPID_SUB would fail every push one by one: refuse it at start instead.
        self._vapid.sign({"aud": "https://push.example", "sub": settings.vapid_sub})
        self._vapid_headers: dict[str, tuple[str, float]] = {}  # origin -> (header, exp)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sends: set[asyncio.Task[None]] = set()
        # Claimed by this worker and not yet committed: never claimed twice by ourselves.
        self._in_flight: dict[int, Job] = {}
        self._done: list[tuple[Job, Outcome]] = []
        # An eighth of the slots: fewer commits, while the other slots keep the pipe full.
        self._batch = max(1, self.concurrency // 8)
        self._flush: asyncio.TimerHandle | None = None  # a pending BATCH_WAIT wake
        self._counts = {"sent": 0, "failed": 0, "gone": 0, "retried": 0}
        self.health = TaskHealth("push worker")

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> PushWorker:
        self._task = asyncio.create_task(supervised(self._run, self.health), name="hwc-push-worker")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def wake(self) -> None:
        """Deliver now: call right after committing a transaction that enqueued rows."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def stats(self) -> dict[str, Any]:
        """Counts since start plus the queue as the database has it, for /readyz and /metrics."""
        depth, oldest = self.db.execute(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'"
        ).fetchone()
        return {
            **self._counts,
            "alive": self.alive,
            "in_flight": len(self._in_flight),
            "queue_depth": depth,
            "oldest_pending_seconds": max(0.0, self.clock.now() - oldest) if oldest else 0.0,
        }

    # -- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        connector = checked_connector(self._policy, self.max_in_flight, self.concurrency)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            self._session = session
            try:
                while True:
                    self._wake.clear()
                    try:
                        delay = self._step()
                    except sqlite3.Error as error:  # e.g. locked too long: try again shortly
                        log.warning("push outbox step failed: %s", type(error).__name__)
                        delay = 1.0
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), delay)
            finally:
                for send in self._sends:
                    send.cancel()
                await asyncio.gather(*self._sends, return_exceptions=True)
                # Record what did finish, so a clean stop re-sends nothing already delivered,
                # and release what did not, so the next start sends it at once.
                with contextlib.suppress(sqlite3.Error):
                    self._step(claim=False)
                self._session = None

    def _step(self, claim: bool = True) -> float | None:
        """Commit finished outcomes and claim due rows in one transaction.

        Returns how long to sleep (app seconds scaled to real ones) unless woken; None means
        until woken.
        """
        done, self._done = self._done, []
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        now = self.clock.now()
        free = self.max_in_flight - len(self._in_flight) + len(done)
        try:
            with self.db.transaction():
                self._record(done, now)
                finished = {job.id for job, _ in done}
                jobs = self._claim(now, free, finished) if claim and free > 0 else []
                if not claim:
                    self._release(finished, now)
        except BaseException:
            self._done = done + self._done  # keep them for the next try
            raise
        for job, _ in done:
            self._in_flight.pop(job.id, None)
        self._count(done)
        for job in jobs:
            self._start(job)
        if not claim or len(jobs) == free:
            return None  # all slots busy: a finishing send wakes us
        # Rows due now were claimed or wait for their origin's slots: a finishing send wakes us.
        row = self.db.execute(
            "SELECT MIN(due_at) FROM outbox WHERE state = 'pending' AND due_at > ? "
            "AND id NOT IN (SELECT value FROM json_each(?))",
            [now, json.dumps(sorted(self._in_flight))],
        ).fetchone()
        if row[0] is None:
            return None
        speed = getattr(self.clock, "speed", 1.0) or 1.0  # a sped-up demo clock sleeps less
        return max(0.0, row[0] - self.clock.now()) / speed

    def _claim(self, now: float, limit: int, finished: set[int]) -> list[Job]:
        busy = json.dumps(sorted(self._in_flight))
        origins, seen_all = self._pick(now, limit, busy, finished)
        if seen_all:
            # Every deliverable due row is claimed or waits for a slot, so what else is due
            # can no longer be delivered. Only now: during a burst this sweep would rescan
            # the queue each time.
            self._end_undeliverable(now, busy)
        if not origins:
            return []
        rows = self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, due_at = ? "
            "WHERE id IN (SELECT value FROM json_each(?)) "
            "RETURNING id, device_id, kind, signal_id, expires_at, attempts",
            [now + self.lease, json.dumps(list(origins))],
        ).fetchall()
        pushes = dict(
            self.db.execute(
                "SELECT id, push FROM devices WHERE id IN (SELECT value FROM json_each(?))",
                [json.dumps([row[1] for row in rows])],
            ).fetchall()
        )
        return [
            Job(
                id=r[0],
                device_id=r[1],
                kind=r[2],
                signal_id=r[3],
                expires_at=r[4],
                attempts=r[5],
                subscription=pushes[r[1]],
                origin=origins[r[0]],
            )
            for r in rows
        ]

    def _pick(
        self, now: float, limit: int, busy: str, finished: set[int]
    ) -> tuple[dict[int, str], bool]:
        """Up to `limit` deliverable due rows, oldest first, with their push service origin,
        skipping those whose origin has all its slots in flight; and whether every due row
        was seen. Each pass leaves out the origins already full (in SQL, so a long queue for
        one slow service costs little); another pass follows only when one filled up."""
        load = Counter(job.origin for job in self._in_flight.values() if job.id not in finished)
        picked: dict[int, str] = {}
        while True:
            want = limit - len(picked)
            full = [origin for origin, n in load.items() if n >= self.concurrency]
            rows = self.db.execute(
                PICK_DUE, [now, now, busy, json.dumps(list(picked)), json.dumps(full), want]
            ).fetchall()
            for row_id, origin in rows:
                if load[origin] < self.concurrency:
                    load[origin] += 1
                    picked[row_id] = origin
            if len(rows) < want:
                return picked, True
            if len(picked) == limit:
                return picked, False

    def _end_undeliverable(self, now: float, busy: str) -> None:
        """End due rows without a request: expired, its signal ended, or the device is revoked,
        unsubscribed or known gone."""
        ended = self.db.execute(
            "UPDATE outbox SET state = CASE WHEN d.push_state = 'gone' THEN 'gone' "
            "ELSE 'failed' END FROM devices AS d "
            "WHERE d.id = outbox.device_id AND outbox.state = 'pending' AND outbox.due_at <= ? "
            "AND outbox.id NOT IN (SELECT value FROM json_each(?)) "
            "AND (outbox.expires_at <= ? OR d.revoked_at IS NOT NULL OR d.push IS NULL "
            "OR d.push_state != 'active' OR EXISTS (SELECT 1 FROM signals AS s "
            "WHERE s.id = outbox.signal_id AND s.ended_at IS NOT NULL)) "
            "RETURNING outbox.id, outbox.kind, outbox.state",
            [now, busy, now],
        ).fetchall()
        for row_id, kind, state in ended:
            self._counts[state] += 1
            log.info("push %d %s %s without sending", row_id, kind, state)

    def _release(self, finished: set[int], now: float) -> None:
        """A clean stop (SIGTERM): claimed rows whose sends were cut off are due now, not when
        their lease runs out, so a restart sends them at once. A row another worker claimed
        meanwhile has a newer attempt number and is left alone."""
        self.db.conn.executemany(
            "UPDATE outbox SET due_at = ? WHERE id = ? AND attempts = ? AND state = 'pending'",
            [
                (now, job.id, job.attempts)
                for job in self._in_flight.values()
                if job.id not in finished
            ],
        )

    def _record(self, done: list[tuple[Job, Outcome]], now: float) -> None:
        # `attempts = ?` fences out a stale answer to a claim that expired meanwhile; a retry
        # stays pending with its new due_at.
        self.db.conn.executemany(
            "UPDATE outbox SET state = ?, due_at = coalesce(?, due_at), last_status = ? "
            "WHERE id = ? AND attempts = ? AND state = 'pending'",
            [
                (outcome.state, outcome.due_at, outcome.status, job.id, job.attempts)
                for job, outcome in done
            ],
        )
        # Only the subscription that answered 404/410; a newer one stays active.
        self.db.conn.executemany(
            "UPDATE devices SET push_state = 'gone' WHERE push = ? AND push_state = 'active' "
            "AND id = (SELECT device_id FROM outbox WHERE id = ?)",
            [(job.subscription, job.id) for job, outcome in done if outcome.state == "gone"],
        )
        # Since when this subscription's pushes fail, for the admin; one that arrives clears it.
        self.db.conn.executemany(
            "UPDATE devices SET push_failing_since = CASE WHEN ? THEN NULL "
            "ELSE coalesce(push_failing_since, ?) END WHERE id = ? AND push = ?",
            [
                (outcome.state == "sent", now, job.device_id, job.subscription)
                for job, outcome in done
                if outcome.state != "gone"
            ],
        )

    def _count(self, done: list[tuple[Job, Outcome]]) -> None:
        for job, outcome in done:
            state = "retried" if outcome.state == "pending" else outcome.state
            self._counts[state] += 1
            level = logging.DEBUG if state == "sent" else logging.INFO
            log.log(
                level,
                "push %d %s %s (status %s, attempt %d)",
                job.id,
                job.kind,
                state,
                outcome.status,
                job.attempts,
            )

    # -- one push --------------------------------------------------------------------------

    def _start(self, job: Job) -> None:
        self._in_flight[job.id] = job
        send = asyncio.create_task(self._send(job))
        self._sends.add(send)
        send.add_done_callback(self._sends.discard)

    async def _send(self, job: Job) -> None:
        try:
            await self.db.durable()  # the claim, and what caused the push, are on disk first
        except sqlite3.Error:  # that commit failed: the claim never happened
            self._in_flight.pop(job.id, None)
            return
        try:
            outcome = await self._attempt(job)
        except Exception as error:  # unusable subscription data: retrying cannot help
            log.warning("push %d %s failed: %s", job.id, job.kind, type(error).__name__)
            outcome = Outcome("failed", None)
        self._done.append((job, outcome))
        # Outcomes are committed in batches (one fsync each): a batch, all that is in flight,
        # or whatever finished BATCH_WAIT ago.
        if len(self._done) >= self._batch or len(self._done) >= len(self._in_flight):
            self._wake.set()
        elif self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(BATCH_WAIT, self._wake.set)

    async def _attempt(self, job: Job) -> Outcome:
        assert self._session is not None
        subscription = json.loads(job.subscription)
        endpoint, keys = subscription["endpoint"], subscription["keys"]
        if not self._policy.allows_url(endpoint):  # stored before the check, or now disallowed
            log.warning("push %d %s refused: endpoint not allowed", job.id, job.kind)
            return Outcome("failed", None)
        body = webpush.encrypt(
            payload(self.settings.base_url, job.kind, job.signal_id).encode(),
            b64u_decode(keys["p256dh"]),
            b64u_decode(keys["auth"]),
        )
        ttl = int(min(MAX_TTL, max(MIN_TTL, job.expires_at - self.clock.now())))
        headers = {
            **PUSH_HEADERS,
            "Authorization": self.authorization(endpoint),
            "TTL": str(ttl),
            "Topic": topic(self._topic_key, job.device_id, job.signal_id or job.kind),
        }
        retry_after: float | None = None
        try:
            # A redirect is never followed (it could point anywhere) and fails the push below.
            async with self._session.post(
                endpoint, data=body, headers=headers, allow_redirects=False
            ) as response:
                status: int | None = response.status
                if response.status >= 300:
                    retry_after = parse_retry_after(
                        response.headers.get("Retry-After"), self.wall()
                    )
                # Read to the end so the connection is reused; the status already counts.
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            if isinstance(getattr(error, "os_error", None), RefusedAddress):
                log.warning("push %d %s refused: address not allowed", job.id, job.kind)
                return Outcome("failed", None)
            log.info("push %d %s network error: %s", job.id, job.kind, type(error).__name__)
            status = None
        if status is not None and 200 <= status < 300:
            return Outcome("sent", status)
        if status in GONE:
            return Outcome("gone", status)
        if status is None or status in (408, 429) or status >= 500:
            return self._retry(job, status, retry_after)
        return Outcome("failed", status)  # 400/401/403/413...: the same request fails again

    def _retry(self, job: Job, status: int | None, retry_after: float | None) -> Outcome:
        """Try again for as long as the push can still matter: capped exponential backoff, or
        later when the push service says so; a retry due after the row expires ends it now."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** min(job.attempts - 1, 40))
        delay *= _jitter.uniform(0.5, 1.0)  # spread a burst of retries apart
        if retry_after is not None:
            delay = max(delay, retry_after)
        due = self.clock.now() + delay
        if due >= job.expires_at:
            return Outcome("failed", status)
        return Outcome("pending", status, due)

    def authorization(self, endpoint: str) -> str:
        """The VAPID header for the endpoint's push service, signed once and reused.

        The JWT's exp is checked by the push service against its real clock, so it is made
        from real time, not from the (possibly sped-up) app clock.
        """
        origin = origin_of(endpoint)
        now = self.wall()
        cached = self._vapid_headers.get(origin)
        if cached is None or cached[1] - now < VAPID_RENEW_BEFORE:
            exp = int(now) + VAPID_LIFETIME
            claims = {"aud": origin, "exp": exp, "sub": self.settings.vapid_sub}
            cached = (self._vapid.sign(claims)["Authorization"], exp)
            self._vapid_headers[origin] = cached
        return cached[0]
