"""Timers: reminders, escalation, late teachers, self-destruct, expiry and purges.

Driven by the database: every due moment is computed from the rows, so a restart or a sleeping
server loses nothing and fires late timers at once. The timers are data (`TIMERS`): each names
its rows, the moment a row is due, and how firing claims it. A timer that claims sets a column
in an UPDATE guarded by that column (or the states it leaves), inside one transaction, so it
fires exactly once; a purge deletes. Both the firing statements and `next_due` are built from
the same table, so the scheduler can never sleep past a timer that would fire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from server import privacy, push
from server.clock import Clock
from server.db import Store
from server.policy import Timing
from server.signals import add_event
from server.states import OPEN_STATES, Event, Push, State
from server.tasks import TaskHealth, supervised

log = logging.getLogger("hwc.timers")

MAX_SLEEP = 60.0  # seconds of simulated time: new rows are seen within this, however fast the clock

CHUNK = 500  # ids per statement, well below SQLite's limit on parameters
Action = Callable[[Store, list[Any], float, Timing], int]


def _no_delay(timing: Timing) -> float:
    return 0.0


def _no_params(timing: Timing) -> list[Any]:
    return []


@dataclass(frozen=True)
class Timer:
    """One timer. `rows` selects the rows it concerns in `table` (with `claim`, it includes the
    guard: the claimed column still NULL, or the states it leaves); a row is due at `due` +
    `delay`. Firing with `claim` (a SET clause, `?` is now) claims the due rows and runs `action`
    on them; without, `action` (if any) runs on the due rows and then they are deleted, with
    their pages zeroed (Store.erase). Every fragment is fixed SQL; values are parameters."""

    name: str  # its count in run_due's answer (several timers may add to one)
    table: str
    rows: str
    due: str
    claim: str | None = None
    action: Action | None = None
    delay: Callable[[Timing], float] = _no_delay
    due_params: Callable[[Timing], list[Any]] = _no_params  # for `?` in `due`

    def due_sql(self) -> str:
        """The earliest moment a row is due, NULL when none is pending."""
        return f"SELECT min({self.due}) + ? AS t FROM {self.table} WHERE {self.rows}"  # noqa: S608

    def fire(self, db: Store, now: float, timing: Timing) -> int:
        due = f"({self.rows}) AND {self.due} <= ?"
        params = [*self.due_params(timing), now - self.delay(timing)]
        if self.claim is not None:
            claimed = db.execute(
                f"UPDATE {self.table} SET {self.claim} WHERE {due} RETURNING *",  # noqa: S608
                [now, *params],
            ).fetchall()
            if self.action is not None:
                self.action(db, claimed, now, timing)
            return len(claimed)
        count = 0
        if self.action is not None:
            sql = f"SELECT * FROM {self.table} WHERE {due}"  # noqa: S608
            rows = db.execute(sql, params).fetchall()
            count += self.action(db, rows, now, timing)
        return count + db.erase(f"DELETE FROM {self.table} WHERE {due}", params)  # noqa: S608


# --- who is told ---------------------------------------------------------------------------


def _devices_of(db: Store, where: str, params: list[Any]) -> list[str]:
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


# --- what firing does ----------------------------------------------------------------------


def _remind(db: Store, signals: list[Any], now: float, timing: Timing) -> int:
    """Nobody opened it: push the receiving contacts (or officers) once more."""
    for signal in signals:
        add_event(db, signal["id"], now, Event.REMINDED)
        push.enqueue(
            db,
            _holders_devices(db, signal),
            signal["id"],
            Push.REMINDER,
            signal["expires_at"],
            now,
            timing.quiet,
            signal["deadline_at"],
        )
    return len(signals)


def _remind_relay(db: Store, signals: list[Any], now: float, timing: Timing) -> int:
    """Leerplicht did not relay in time: remind the officers, and the original sender hears it
    too, so they can phone."""
    _remind(db, signals, now, timing)
    for signal in signals:
        _alert_sender(db, signal, now, Event.RELAY_LATE)
    return len(signals)


def _alert_sender(db: Store, signal: Any, now: float, event: str) -> None:
    add_event(db, signal["id"], now, event)
    push.enqueue(
        db, _senders_devices(db, signal), signal["id"], Push.ESCALATION, signal["expires_at"], now
    )


def _escalate(db: Store, signals: list[Any], now: float, timing: Timing) -> int:
    """The deadline passed and nobody acted: alert the sender, push the holders again."""
    for signal in signals:
        _alert_sender(db, signal, now, Event.ESCALATED)
        # Past the deadline: a device's own quiet hours hold nothing (HOLD_MARGIN).
        push.enqueue(
            db,
            _holders_devices(db, signal),
            signal["id"],
            Push.REMINDER,
            signal["expires_at"],
            now,
            deadline_at=signal["deadline_at"],
        )
    return len(signals)


def _tell_contact_teacher_late(db: Store, signals: list[Any], now: float, timing: Timing) -> int:
    """Forwarded, but a chosen teacher has not opened by the deadline: tell the contact."""
    for signal in signals:
        add_event(db, signal["id"], now, Event.TEACHER_LATE)
        push.enqueue(
            db,
            _devices_of(db, "p.id = ?", [signal["acted_by"]]),
            signal["id"],
            Push.TEACHER_LATE,
            signal["expires_at"],
            now,
            deadline_at=signal["deadline_at"],
        )
    return len(signals)


def _expire(db: Store, signals: list[Any], now: float, timing: Timing) -> int:
    for signal in signals:
        db.erase("DELETE FROM envelopes WHERE signal_id = ?", [signal["id"]])
        add_event(db, signal["id"], now, Event.EXPIRED)
    return len(signals)


def _purge_pushes_of(db: Store, signals: list[Any], now: float, timing: Timing) -> int:
    """A signal's status rows go with their pushes; no page image of them stays behind."""
    ids = [signal["id"] for signal in signals]
    count = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        count += db.erase(f"DELETE FROM outbox WHERE signal_id IN ({marks})", chunk)  # noqa: S608
    return count


def _erase_people(db: Store, people: list[Any], now: float, timing: Timing) -> int:
    return sum(privacy.erase_person(db, person["id"]) for person in people)


def _erase_devices(db: Store, devices: list[Any], now: float, timing: Timing) -> int:
    return sum(privacy.erase_device(db, device["id"]) for device in devices)


# --- the timers ----------------------------------------------------------------------------


def _states(*states: str) -> str:
    return "state IN (" + ", ".join(f"'{state}'" for state in states) + ")"


def _held_by(kind: str) -> str:
    return f"holder_org_id IN (SELECT id FROM orgs WHERE kind = '{kind}')"  # noqa: S608 - fixed


def _reminder(holder: str, states: tuple[str, ...], action: Action, after: str) -> Timer:
    """Nobody opened it in time: remind the holders. remind_at is NULL only in rows from before
    it existed: then the plain delay (the Timing field `after`) counts."""
    return Timer(
        "reminded",
        "signals",
        f"reminded_at IS NULL AND {_states(*states)} AND {_held_by(holder)}",
        "coalesce(remind_at, sent_at + ?)",
        claim="reminded_at = ?",
        action=action,
        due_params=lambda timing: [getattr(timing, after)],
    )


TIMERS: tuple[Timer, ...] = (
    _reminder("school", (State.SENT, State.RELAYED), _remind, "remind_after"),
    _reminder("leerplicht", (State.SENT, State.OPENED), _remind_relay, "relay_remind_after"),
    Timer(
        "escalated",
        "signals",
        "escalated_at IS NULL AND " + _states(State.SENT, State.OPENED, State.RELAYED),
        "deadline_at",
        claim="escalated_at = ?",
        action=_escalate,
    ),
    Timer(
        "teacher_late",
        "signals",
        "teacher_late_at IS NULL AND " + _states(State.FORWARDED),
        "deadline_at",
        claim="teacher_late_at = ?",
        action=_tell_contact_teacher_late,
    ),
    # A teacher's copy goes when the grace period after the first view ends.
    Timer(
        "destroyed",
        "envelopes",
        "role = 'teacher' AND opened_at IS NOT NULL",
        "opened_at",
        delay=lambda timing: timing.view_grace,
    ),
    Timer(
        "expired",
        "signals",
        _states(*OPEN_STATES),
        "expires_at",
        claim=f"state = '{State.EXPIRED}', ended_at = ?",
        action=_expire,
    ),
    # Status rows go after the retention period, with their pushes.
    Timer(
        "purged",
        "signals",
        "ended_at IS NOT NULL",
        "ended_at",
        action=_purge_pushes_of,
        delay=lambda timing: timing.retention,
    ),
    Timer(
        "purged",
        "outbox",
        "state != 'pending'",
        "created_at",
        delay=lambda timing: timing.retention,
    ),
    # The directory's retention rules (docs/gegevens.md; server/privacy.py).
    Timer(
        "directory_purged",
        "people",
        "revoked_at IS NOT NULL",
        "revoked_at",
        action=_erase_people,
        delay=lambda timing: timing.revoked_retention,
    ),
    Timer(
        "directory_purged",
        "devices",
        "revoked_at IS NOT NULL",
        "revoked_at",
        action=_erase_devices,
        delay=lambda timing: timing.revoked_retention,
    ),
    Timer(
        "directory_purged",
        "api_keys",
        "revoked_at IS NOT NULL",
        "revoked_at",
        delay=lambda timing: timing.revoked_retention,
    ),
    Timer(
        "directory_purged",
        "machine_keys",
        "revoked_at IS NOT NULL",
        "revoked_at",
        delay=lambda timing: timing.revoked_retention,
    ),
    Timer(
        "directory_purged",
        "enrol_tokens",
        "1 = 1",
        "coalesce(spent_at, expires_at)",
        delay=lambda timing: timing.token_retention,
    ),
    # Security events (server/security_events.py) are kept as long as status rows.
    Timer(
        "purged",
        "security_events",
        "1 = 1",
        "at",
        delay=lambda timing: timing.retention,
    ),
    # The admin audit trail (server/adminlog.py).
    Timer(
        "audit_purged",
        "admin_log",
        "1 = 1",
        "at",
        delay=lambda timing: timing.audit_retention,
    ),
)
NEXT_DUE = "SELECT min(t) FROM (" + " UNION ALL ".join(t.due_sql() for t in TIMERS) + ")"  # noqa: S608


def fire(db: Store, name: str, now: float, timing: Timing) -> int:
    """Fire the timers of one name (a test's shortcut to one step), in one transaction."""
    with db.transaction():
        return sum(t.fire(db, now, timing) for t in TIMERS if t.name == name)


def run_due(db: Store, now: float, timing: Timing) -> dict[str, int]:
    """Fire everything that is due, in one transaction (which truncates the WAL after erasing)."""
    fired = dict.fromkeys((t.name for t in TIMERS), 0)
    with db.transaction():
        for timer in TIMERS:
            fired[timer.name] += timer.fire(db, now, timing)
        fired["directory_purged"] += privacy.sweep(db, now)
    return fired


def next_due(db: Store, timing: Timing) -> float | None:
    """The earliest moment any timer is due, computed from the rows."""
    params = [p for t in TIMERS for p in (*t.due_params(timing), t.delay(timing))]
    row = db.execute(NEXT_DUE, params).fetchone()
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
