"""Timers: reminders, escalation, late teachers, self-destruct, expiry and purges.

Driven by the database: every due moment is computed from the rows, so a restart or a sleeping
server loses nothing and fires late timers at once. Each timer is an UPDATE guarded by the column
it sets (reminded_at, escalated_at, ...) inside one transaction, so it fires exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Any

from server import privacy, push
from server.clock import Clock
from server.db import Store
from server.signals import OPEN_STATES, Timing, add_event
from server.tasks import TaskHealth, supervised

log = logging.getLogger("hwc.timers")

MAX_SLEEP = 60.0  # seconds of simulated time: new rows are seen within this, however fast the clock


def _devices_of(db: Store, where: str, params: list) -> list[str]:
    sql = (
        "SELECT d.id FROM devices d JOIN people p ON p.id = d.person_id "  # noqa: S608
        f"WHERE d.revoked_at IS NULL AND p.revoked_at IS NULL AND d.pending = 0 AND {where}"
    )
    rows = db.execute(sql, params).fetchall()
    return [r[0] for r in rows]


def _holders_devices(db: Store, signal: Any) -> list[str]:
    """The devices that still hold this signal's unopened envelopes (contacts or officers)."""
    rows = db.execute(
        "SELECT device_id FROM envelopes WHERE signal_id = ? AND role != 'teacher'", [signal["id"]]
    ).fetchall()
    return [r[0] for r in rows]


def _senders_devices(db: Store, signal: Any) -> list[str]:
    return _devices_of(
        db, "p.org_id = ? AND p.role IN ('sender', 'officer')", [signal["sender_org_id"]]
    )


def _claim(db: Store, sql: str, params: list) -> list[Any]:
    return list(db.execute(sql + " RETURNING *", params).fetchall())


def remind_unopened(db: Store, now: float, timing: Timing) -> int:
    """Nobody opened it: push the receiving contacts (or officers) once more."""
    # remind_at is NULL only in rows from before it existed: then the plain delay counts.
    signals = _claim(
        db,
        """UPDATE signals SET reminded_at = ? WHERE reminded_at IS NULL
        AND ((state IN ('sent', 'relayed') AND coalesce(remind_at, sent_at + ?) <= ?
              AND holder_org_id IN (SELECT id FROM orgs WHERE kind = 'school'))
          OR (state IN ('sent', 'opened') AND coalesce(remind_at, sent_at + ?) <= ?
              AND holder_org_id IN (SELECT id FROM orgs WHERE kind = 'leerplicht')))""",
        [now, timing.remind_after, now, timing.relay_remind_after, now],
    )
    for signal in signals:
        add_event(db, signal["id"], now, "reminded")
        push.enqueue(
            db,
            _holders_devices(db, signal),
            signal["id"],
            "reminder",
            signal["expires_at"],
            now,
            timing.quiet,
            signal["deadline_at"],
        )
        if signal["state"] != "relayed" and _held_by_leerplicht(db, signal):
            # Not relayed in time: the original sender hears it too, so they can phone.
            add_event(db, signal["id"], now, "relay_late")
            push.enqueue(
                db,
                _senders_devices(db, signal),
                signal["id"],
                "escalation",
                signal["expires_at"],
                now,
            )
    return len(signals)


def _held_by_leerplicht(db: Store, signal: Any) -> bool:
    row = db.execute("SELECT kind FROM orgs WHERE id = ?", [signal["holder_org_id"]]).fetchone()
    return bool(row and row[0] == "leerplicht")


def escalate_late(db: Store, now: float) -> int:
    """The deadline passed and nobody acted: alert the sender, push the holders again."""
    signals = _claim(
        db,
        "UPDATE signals SET escalated_at = ? WHERE escalated_at IS NULL "
        "AND state IN ('sent', 'opened', 'relayed') AND deadline_at <= ?",
        [now, now],
    )
    for signal in signals:
        add_event(db, signal["id"], now, "escalated")
        push.enqueue(
            db, _senders_devices(db, signal), signal["id"], "escalation", signal["expires_at"], now
        )
        # Past the deadline: a device's own quiet hours hold nothing (HOLD_MARGIN).
        push.enqueue(
            db,
            _holders_devices(db, signal),
            signal["id"],
            "reminder",
            signal["expires_at"],
            now,
            deadline_at=signal["deadline_at"],
        )
    return len(signals)


def tell_contact_teacher_late(db: Store, now: float) -> int:
    """Forwarded, but a chosen teacher has not opened by the deadline: tell the contact."""
    signals = _claim(
        db,
        """UPDATE signals SET teacher_late_at = ? WHERE teacher_late_at IS NULL
        AND state = 'forwarded' AND deadline_at <= ?""",
        [now, now],
    )
    for signal in signals:
        add_event(db, signal["id"], now, "teacher_late")
        push.enqueue(
            db,
            _devices_of(db, "p.id = ?", [signal["acted_by"]]),
            signal["id"],
            "teacher_late",
            signal["expires_at"],
            now,
            deadline_at=signal["deadline_at"],
        )
    return len(signals)


def destroy_viewed_copies(db: Store, now: float, timing: Timing) -> int:
    """A teacher's copy goes when the grace period after the first view ends."""
    return db.erase(
        "DELETE FROM envelopes WHERE role = 'teacher' AND opened_at <= ?",
        [now - timing.view_grace],
    )


def expire(db: Store, now: float) -> int:
    marks = ",".join("?" * len(OPEN_STATES))
    signals = _claim(
        db,
        f"UPDATE signals SET state = 'expired', ended_at = ? "  # noqa: S608
        f"WHERE state IN ({marks}) AND expires_at <= ?",
        [now, *OPEN_STATES, now],
    )
    for signal in signals:
        db.erase("DELETE FROM envelopes WHERE signal_id = ?", [signal["id"]])
        add_event(db, signal["id"], now, "expired")
    return len(signals)


def purge_ended(db: Store, now: float, timing: Timing) -> int:
    """Status rows go after the retention period; no page image of them stays behind."""
    cutoff = now - timing.retention
    ended = "SELECT id FROM signals WHERE ended_at IS NOT NULL AND ended_at <= ?"
    deleted = db.erase(
        f"DELETE FROM outbox WHERE signal_id IN ({ended})",  # noqa: S608
        [cutoff],
    )
    deleted += db.erase(
        "DELETE FROM signals WHERE ended_at IS NOT NULL AND ended_at <= ?", [cutoff]
    )
    deleted += db.erase("DELETE FROM outbox WHERE state != 'pending' AND created_at <= ?", [cutoff])
    return deleted


def run_due(db: Store, now: float, timing: Timing) -> dict[str, int]:
    """Fire everything that is due, in one transaction (which truncates the WAL after erasing)."""
    with db.transaction():
        fired = {
            "reminded": remind_unopened(db, now, timing),
            "escalated": escalate_late(db, now),
            "teacher_late": tell_contact_teacher_late(db, now),
            "destroyed": destroy_viewed_copies(db, now, timing),
            "expired": expire(db, now),
            "purged": purge_ended(db, now, timing),
            "directory_purged": privacy.purge_directory(db, now, timing),
        }
    return fired


def next_due(db: Store, timing: Timing) -> float | None:
    """The earliest moment any timer is due, computed from the rows."""
    row = db.execute(
        """SELECT min(t) FROM (
            SELECT min(coalesce(s.remind_at, s.sent_at + ?)) AS t FROM signals s
                JOIN orgs o ON o.id = s.holder_org_id
                WHERE s.reminded_at IS NULL AND o.kind = 'school'
                AND s.state IN ('sent', 'relayed')
            UNION ALL SELECT min(coalesce(s.remind_at, s.sent_at + ?)) FROM signals s
                JOIN orgs o ON o.id = s.holder_org_id
                WHERE s.reminded_at IS NULL AND o.kind = 'leerplicht'
                AND s.state IN ('sent', 'opened')
            UNION ALL SELECT min(deadline_at) FROM signals WHERE escalated_at IS NULL
                AND state IN ('sent', 'opened', 'relayed')
            UNION ALL SELECT min(deadline_at) FROM signals WHERE teacher_late_at IS NULL
                AND state = 'forwarded'
            UNION ALL SELECT min(opened_at) + ? FROM envelopes WHERE role = 'teacher'
                AND opened_at IS NOT NULL
            UNION ALL SELECT min(expires_at) FROM signals WHERE state IN
                ('sent', 'opened', 'relayed', 'forwarded', 'viewed')
            UNION ALL SELECT min(ended_at) + ? FROM signals WHERE ended_at IS NOT NULL
            UNION ALL SELECT min(revoked_at) + ? FROM people WHERE revoked_at IS NOT NULL
            UNION ALL SELECT min(revoked_at) + ? FROM devices WHERE revoked_at IS NOT NULL
            UNION ALL SELECT min(revoked_at) + ? FROM api_keys WHERE revoked_at IS NOT NULL
            UNION ALL SELECT min(coalesce(spent_at, expires_at)) + ? FROM enrol_tokens)""",
        [
            timing.remind_after,
            timing.relay_remind_after,
            timing.view_grace,
            timing.retention,
            *[timing.revoked_retention] * 3,
            timing.token_retention,
        ],
    ).fetchone()
    return None if row[0] is None else float(row[0])


class Timers:
    """The scheduler in the app's lifespan: sleeps until the next due moment or a wake()."""

    def __init__(self, db: Store, clock: Clock, timing: Timing) -> None:
        self.db, self.clock, self.timing = db, clock, timing
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_run: float | None = None
        self.health = TaskHealth("timers")

    def wake(self) -> None:
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def __aenter__(self) -> Timers:
        self._task = asyncio.create_task(supervised(self._run, self.health), name="hwc-timers")
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            fired: dict[str, int] = {}
            try:
                fired = run_due(self.db, self.clock.now(), self.timing)
                self.last_run = self.clock.now()
                if any(fired.values()):
                    log.info("timers fired %s", {k: v for k, v in fired.items() if v})
            except Exception as exc:  # keep the scheduler alive; the next round retries
                log.error("timers failed: %s", type(exc).__name__)
            await self._sleep_until_due(idle=not any(fired.values()))

    async def _sleep_until_due(self, idle: bool) -> None:
        due = next_due(self.db, self.timing)
        wait = MAX_SLEEP if due is None else (due - self.clock.now()) / self.clock.speed
        if idle and wait <= 0:
            wait = 1.0  # due but nothing fired (a row changed meanwhile): never spin
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self._wake.wait(), timeout=min(max(wait, 0.0), MAX_SLEEP / self.clock.speed)
            )
