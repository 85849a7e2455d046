"""The push delivery worker: drains the outbox to the push services (DESIGN.md section 7).

One background task per process. It claims due outbox rows with a lease, encrypts each push
(server/webpush.py), sends it with one shared aiohttp session (bounded concurrency, explicit
timeout, TTL, Urgency, Topic, a VAPID header signed once per push service), and records each
outcome. All state is in the `outbox` table, so a restart resumes exactly where the last
process stopped.

Exactly-once in practice. A row is claimed (attempts + 1, due_at = now + lease) in one
BEGIN IMMEDIATE transaction, so two workers (threads or processes) never claim the same row,
and a row that is claimed but never marked becomes due again when the lease runs out: nothing
is ever lost. If the process dies after the push service answered 201 but before the outcome
was committed, the row is sent once more after the lease. That is at most one duplicate push,
and it is harmless: it has the same Topic (the push service replaces the undelivered copy)
and the same notification tag (the phone replaces the shown one). Outcomes are committed with
the attempt number they were claimed with, so a late answer to a claim that already expired
never overwrites a newer attempt's outcome.

Endpoints are capability URLs and payloads say which signal a device is in: neither is ever
logged, nor are subscription keys or exception texts (aiohttp puts the URL in those). Logs
carry the row id, kind and status only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import sqlite_utils
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

from server import webpush
from server.clock import Clock
from server.db import durable, transaction
from server.envelope import b64u_decode, b64u_encode
from server.settings import Settings
from server.tasks import TaskHealth, supervised

log = logging.getLogger("hwc.push")

# Neutral lock-screen texts per kind: never a name, never a school (DESIGN.md section 2).
TEXTS: dict[str, tuple[str, str]] = {
    "new_signal": ("Nieuw signaal", "Er is een nieuw Handle with Care-signaal. Open de app."),
    "teacher_signal": ("Signaal voor u",
                       "Uw intern begeleider stuurt u een signaal. Open de app vóór de les."),
    "reminder": ("Herinnering", "Er wacht nog een signaal op u. Open de app."),
    "escalation": ("Signaal niet op tijd opgepakt",
                   "Een school heeft een signaal niet op tijd opgepakt. Open de app."),
    "teacher_late": ("Leerkracht heeft nog niet gekeken",
                     "Een leerkracht heeft het signaal nog niet geopend. Open de app."),
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
BATCH_WAIT = 0.02  # longest a finished push waits for its outcome to be committed

_jitter = random.SystemRandom()


def topic(signal_id: str) -> str:
    """RFC 8030 Topic: at most 32 base64url characters; the same for every push of a signal."""
    return b64u_encode(hashlib.sha256(signal_id.encode()).digest())[:32]


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
    kind: str
    signal_id: str | None
    expires_at: float
    attempts: int
    subscription: str  # devices.push as claimed; parsed only when sending


@dataclass(frozen=True)
class Outcome:
    state: str  # 'sent', 'gone', 'failed', or 'pending' (retry at due_at)
    status: int | None  # HTTP status; None for a network error or timeout
    due_at: float | None = None


class PushWorker:
    """Delivers outbox rows. `async with worker:` runs it; `wake()` after enqueueing."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        settings: Settings,
        clock: Clock,
        vapid_key: ec.EllipticCurvePrivateKey,
        *,
        concurrency: int | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        max_attempts: int = 8,
        lease: float | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.concurrency = max(1, concurrency or settings.push_concurrency)
        self.timeout = float(settings.push_timeout_seconds)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_attempts = max_attempts
        # Another process may re-claim a row after the lease: keep it well above one request.
        self.lease = lease if lease is not None else max(30.0, 3 * self.timeout)
        self._vapid = Vapid(private_key=vapid_key)
        self.wall: Callable[[], float] = time.time  # real time, for JWT exp (see authorization)
        # A bad HWC_VAPID_SUB would fail every push one by one: refuse it at start instead.
        self._vapid.sign({"aud": "https://push.example", "sub": settings.vapid_sub})
        self._vapid_headers: dict[str, tuple[str, float]] = {}  # origin -> (header, exp)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sends: set[asyncio.Task[None]] = set()
        # Claimed by this worker and not yet committed: never claimed twice by ourselves.
        self._in_flight: set[int] = set()
        self._done: list[tuple[Job, Outcome]] = []
        # An eighth of the slots: fewer commits, while the other slots keep the pipe full.
        self._batch = max(1, self.concurrency // 8)
        self._flush: asyncio.TimerHandle | None = None  # a pending BATCH_WAIT wake
        self._counts = {"sent": 0, "failed": 0, "gone": 0, "retried": 0}
        self.health = TaskHealth("push worker")

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> PushWorker:
        self._task = asyncio.create_task(supervised(self._run, self.health),
                                         name="hwc-push-worker")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
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
        connector = aiohttp.TCPConnector(limit=self.concurrency)
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
                # Record what did finish, so a clean stop re-sends nothing already delivered;
                # cancelled sends stay claimed and become due again after the lease.
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
        free = self.concurrency - len(self._in_flight) + len(done)
        try:
            with transaction(self.db):
                self._record(done)
                jobs = self._claim(now, free) if claim and free > 0 else []
        except BaseException:
            self._done = done + self._done  # keep them for the next try
            raise
        for job, _ in done:
            self._in_flight.discard(job.id)
        self._count(done)
        for job in jobs:
            self._start(job)
        if not claim or len(jobs) == free:
            return None  # all slots busy: a finishing send wakes us
        row = self.db.execute(
            "SELECT MIN(due_at) FROM outbox WHERE state = 'pending' "
            "AND id NOT IN (SELECT value FROM json_each(?))",
            [json.dumps(sorted(self._in_flight))],
        ).fetchone()
        if row[0] is None:
            return None
        speed = getattr(self.clock, "speed", 1.0) or 1.0  # a sped-up demo clock sleeps less
        return max(0.0, row[0] - self.clock.now()) / speed

    def _claim(self, now: float, limit: int) -> list[Job]:
        busy = json.dumps(sorted(self._in_flight))
        rows = self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, due_at = ? WHERE id IN ("
            "SELECT o.id FROM outbox AS o JOIN devices AS d ON d.id = o.device_id "
            "WHERE o.state = 'pending' AND o.due_at <= ? AND o.expires_at > ? "
            "AND o.id NOT IN (SELECT value FROM json_each(?)) AND d.revoked_at IS NULL "
            "AND d.push IS NOT NULL AND d.push_state = 'active' ORDER BY o.due_at LIMIT ?) "
            "RETURNING id, device_id, kind, signal_id, expires_at, attempts",
            [now + self.lease, now, now, busy, limit],
        ).fetchall()
        if len(rows) < limit:
            # Every deliverable due row is claimed, so what is still due can no longer be
            # delivered. Only now: during a burst this sweep would rescan the queue each time.
            self._end_undeliverable(now, busy)
        if not rows:
            return []
        pushes = dict(self.db.execute(
            "SELECT id, push FROM devices WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps([row[1] for row in rows])],
        ).fetchall())
        return [Job(id=r[0], kind=r[2], signal_id=r[3], expires_at=r[4], attempts=r[5],
                    subscription=pushes[r[1]]) for r in rows]

    def _end_undeliverable(self, now: float, busy: str) -> None:
        """End due rows without a request: expired, or the device is revoked, unsubscribed or
        known gone."""
        ended = self.db.execute(
            "UPDATE outbox SET state = CASE WHEN d.push_state = 'gone' THEN 'gone' "
            "ELSE 'failed' END FROM devices AS d "
            "WHERE d.id = outbox.device_id AND outbox.state = 'pending' AND outbox.due_at <= ? "
            "AND outbox.id NOT IN (SELECT value FROM json_each(?)) "
            "AND (outbox.expires_at <= ? OR d.revoked_at IS NOT NULL OR d.push IS NULL "
            "OR d.push_state != 'active') RETURNING outbox.id, outbox.kind, outbox.state",
            [now, busy, now],
        ).fetchall()
        for row_id, kind, state in ended:
            self._counts[state] += 1
            log.info("push %d %s %s without sending", row_id, kind, state)

    def _record(self, done: list[tuple[Job, Outcome]]) -> None:
        # `attempts = ?` fences out a stale answer to a claim that expired meanwhile; a retry
        # stays pending with its new due_at.
        self.db.conn.executemany(
            "UPDATE outbox SET state = ?, due_at = coalesce(?, due_at), last_status = ? "
            "WHERE id = ? AND attempts = ? AND state = 'pending'",
            [(outcome.state, outcome.due_at, outcome.status, job.id, job.attempts)
             for job, outcome in done],
        )
        # Only the subscription that answered 404/410; a newer one stays active.
        self.db.conn.executemany(
            "UPDATE devices SET push_state = 'gone' WHERE push = ? AND push_state = 'active' "
            "AND id = (SELECT device_id FROM outbox WHERE id = ?)",
            [(job.subscription, job.id) for job, outcome in done if outcome.state == "gone"],
        )

    def _count(self, done: list[tuple[Job, Outcome]]) -> None:
        for job, outcome in done:
            state = "retried" if outcome.state == "pending" else outcome.state
            self._counts[state] += 1
            level = logging.DEBUG if state == "sent" else logging.INFO
            log.log(level, "push %d %s %s (status %s, attempt %d)", job.id, job.kind, state,
                    outcome.status, job.attempts)

    # -- one push --------------------------------------------------------------------------

    def _start(self, job: Job) -> None:
        self._in_flight.add(job.id)
        send = asyncio.create_task(self._send(job))
        self._sends.add(send)
        send.add_done_callback(self._sends.discard)

    async def _send(self, job: Job) -> None:
        try:
            await durable(self.db)  # the claim, and what caused the push, are on disk first
        except sqlite3.Error:  # that commit failed: the claim never happened
            self._in_flight.discard(job.id)
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
        body = webpush.encrypt(payload(self.settings.base_url, job.kind, job.signal_id).encode(),
                               b64u_decode(keys["p256dh"]), b64u_decode(keys["auth"]))
        ttl = int(min(MAX_TTL, max(MIN_TTL, job.expires_at - self.clock.now())))
        headers = {**PUSH_HEADERS, "Authorization": self.authorization(endpoint),
                   "TTL": str(ttl), "Topic": topic(job.signal_id or job.kind)}
        retry_after: float | None = None
        try:
            async with self._session.post(endpoint, data=body, headers=headers) as response:
                status: int | None = response.status
                if response.status >= 300:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"),
                                                    self.wall())
                # Read to the end so the connection is reused; the status already counts.
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            log.info("push %d %s network error: %s", job.id, job.kind, type(error).__name__)
            status = None
        if status is not None and 200 <= status < 300:
            return Outcome("sent", status)
        if status in GONE:
            return Outcome("gone", status)
        if status is None or status in (408, 429) or status >= 500:
            if job.attempts >= self.max_attempts:
                return Outcome("failed", status)
            delay = min(self.backoff_cap, self.backoff_base * 2 ** (job.attempts - 1))
            delay *= _jitter.uniform(0.5, 1.0)  # spread a burst of retries apart
            if retry_after is not None:
                delay = max(delay, retry_after)
            return Outcome("pending", status, self.clock.now() + delay)
        return Outcome("failed", status)  # 400/401/403/413...: the same request fails again

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
