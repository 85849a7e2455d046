"""The signal lifecycle (DESIGN.md section 6): plain functions over the database.

Every transition is one BEGIN IMMEDIATE transaction that checks the state it starts from, so
when two people act at once exactly one wins and the other gets 409 with the current state.
Envelopes that are no longer needed are deleted in the same transaction. The server only ever
holds envelopes (ciphertext): no function here sees a name.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import UTC, date, datetime
from typing import Any

import msgspec

from server import calendar, keylog, push
from server.auth import Actor
from server.db import Store
from server.envelope import EnvelopeError, b64u_decode, b64u_encode, check_envelope_shape
from server.errors import Conflict, Invalid, NotFound, Refused
from server.models import DeviceEnvelope
from server.policy import LIST_MAX_SIGNALS, Timing
from server.states import (
    CLOSE_RULES,
    OPEN_STATES,
    UNHANDLED_STATES,
    WITH_TEACHERS,
    CloseReason,
    Event,
    Push,
    State,
)

__all__ = ["OPEN_STATES", "UNHANDLED_STATES"]  # still importable from here

REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud on the phone
RECEIVING_ROLE = keylog.RECEIVING_ROLE


def _conflict(db: Store, signal_id: str, code: str, variant: str | None = None) -> Conflict:
    row = db.execute("SELECT state FROM signals WHERE id = ?", [signal_id]).fetchone()
    return Conflict(code, variant=variant, state=row[0] if row else None)


# --- who receives --------------------------------------------------------------------------


def recipients(db: Store, org_id: str) -> list[dict[str, Any]]:
    """Active devices of the people who receive for this organisation (contacts or officers)."""
    rows = db.execute(
        """SELECT d.id, d.public_key FROM devices d JOIN people p ON p.id = d.person_id
           JOIN orgs o ON o.id = p.org_id
           WHERE p.org_id = ? AND d.revoked_at IS NULL AND p.revoked_at IS NULL
             AND d.pending = 0
             AND ((o.kind = 'school' AND p.role = 'contact')
               OR (o.kind = 'leerplicht' AND p.role = 'officer'))
           ORDER BY d.id""",
        [org_id],
    ).fetchall()
    return [{"device_id": r[0], "public_key": b64u_encode(r[1])} for r in rows]


def receiving_devices(db: Store, org_id: str) -> list[dict[str, Any]]:
    """`recipients`, or 409 telling the sender to phone, with the number when there is one.
    A location DUO's register closed receives nothing, even by an id a sender already had."""
    row = db.execute("SELECT kind, phone, closed_at FROM orgs WHERE id = ?", [org_id]).fetchone()
    phone = row[1] if row else ""
    say = {"phone": f": {phone}" if phone else ""}
    if row is not None and row[2] is not None:
        raise Conflict("school_closed", say=say, phone=phone)
    devices = recipients(db, org_id)
    if devices:
        return devices
    office = row is not None and row[0] == "leerplicht"
    raise Conflict("no_recipients", variant="office" if office else None, say=say, phone=phone)


def teacher_devices(
    db: Store, school_id: str, teacher_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """The school's teachers with their active devices (for forwarding); a teacher without
    one is listed with none, so the contact sees who is not in the app yet."""
    rows = db.execute(
        """SELECT p.id, p.name, p.class_label, d.id, d.public_key
           FROM people p LEFT JOIN devices d ON d.person_id = p.id AND d.revoked_at IS NULL
                AND d.pending = 0
           WHERE p.org_id = ? AND p.role = 'teacher' AND p.revoked_at IS NULL
           ORDER BY p.class_label, p.name, d.id""",
        [school_id],
    ).fetchall()
    teachers: dict[str, dict[str, Any]] = {}
    for person_id, name, class_label, device_id, public_key in rows:
        if teacher_ids is not None and person_id not in teacher_ids:
            continue
        teacher = teachers.setdefault(
            person_id,
            {"person_id": person_id, "name": name, "class_label": class_label, "devices": []},
        )
        if device_id is not None:
            teacher["devices"].append(
                {"device_id": device_id, "public_key": b64u_encode(public_key)}
            )
    return list(teachers.values())


def _checked_envelopes(
    envelopes: list[DeviceEnvelope], org_id: str, current: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """Envelopes must cover exactly the expected devices, once each, and be well formed."""
    given = [e.device_id for e in envelopes]
    if len(set(given)) != len(given) or set(given) != {d["device_id"] for d in current}:
        # org: the key log the client checks the new list against
        raise Conflict("devices_changed", devices=current, org=org_id)
    checked = []
    for item in envelopes:
        as_dict = msgspec.to_builtins(item.envelope)
        try:
            check_envelope_shape(as_dict)
        except EnvelopeError:
            raise Invalid("bad_envelope") from None
        checked.append((item.device_id, msgspec.json.encode(as_dict).decode()))
    return checked


# --- sending -------------------------------------------------------------------------------

# An organisation's region (the admin's override first) and free days (a JSON array), in one
# query.
CALENDAR_ROW = (
    "SELECT coalesce(region_override, region), (SELECT json_group_array(day) FROM free_days "
    "WHERE org_id = orgs.id) FROM orgs WHERE id = ?"
)


def org_calendar(db: Store, org_id: str) -> calendar.SchoolCalendar:
    row = db.execute(CALENDAR_ROW, [org_id]).fetchone()
    days = json.loads(row[1]) if row else []
    # A leerplicht office has no region: its deadline is the same school-morning deadline,
    # counted on the midden calendar (the middle region's holidays).
    return calendar.SchoolCalendar(
        region=(row[0] if row and row[0] else "midden"),
        free_days=frozenset(date.fromisoformat(d) for d in days),
    )


def signal_times(db: Store, org_id: str, now: float, timing: Timing) -> calendar.SignalTimes:
    sent = datetime.fromtimestamp(now, UTC)
    return calendar.signal_times(sent, org_calendar(db, org_id), timing.calendar)


def remind_time(cal: calendar.SchoolCalendar, office: bool, now: float, timing: Timing) -> float:
    """When the receivers are reminded: after REMIND_AFTER (an office: RELAY_REMIND) of
    school-day time outside quiet hours, so never at night, at the weekend or on free days."""
    after = timing.relay_remind_after if office else timing.remind_after
    start = datetime.fromtimestamp(now, UTC)
    return calendar.after_wakeful(start, after, cal, timing.quiet).timestamp()


def new_reference(db: Store) -> str:
    """An unused "HWC-" and 4 characters of REF_ALPHABET (32: 5 bits each, one random draw)."""
    while True:
        bits = secrets.randbits(20)
        ref = "HWC-" + "".join(REF_ALPHABET[bits >> shift & 31] for shift in (15, 10, 5, 0))
        if db.execute("SELECT 1 FROM signals WHERE ref = ?", [ref]).fetchone() is None:
            return ref


def _is_signal_id(text: str) -> bool:
    """16 bytes in canonical base64url: 22 characters alone let the last one carry junk bits."""
    try:
        return len(b64u_decode(text)) == 16
    except EnvelopeError:
        return False


def send_signal(
    db: Store,
    actor: Actor,
    signal_id: str,
    recipient_id: str,
    envelopes: list[DeviceEnvelope],
    now: float,
    timing: Timing,
) -> dict[str, Any]:
    if not _is_signal_id(signal_id):
        raise Invalid("bad_signal_id")
    org = db.execute("SELECT kind, name FROM orgs WHERE id = ?", [recipient_id]).fetchone()
    if org is None or org[0] not in RECEIVING_ROLE:
        raise NotFound("unknown_recipient")
    cal = org_calendar(db, recipient_id)  # one read serves the deadline and the reminder
    times = calendar.signal_times(datetime.fromtimestamp(now, UTC), cal, timing.calendar)
    with db.transaction():
        current = receiving_devices(db, recipient_id)
        rows = _checked_envelopes(envelopes, recipient_id, current)
        ref = new_reference(db)
        try:
            db.execute(
                "INSERT INTO signals (id, ref, sender_org_id, holder_org_id, school_id, state, "
                "sent_at, deadline_at, expires_at, remind_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    signal_id,
                    ref,
                    actor.org_id,
                    recipient_id,
                    recipient_id if org[0] == "school" else None,
                    State.SENT,
                    now,
                    times.deadline.timestamp(),
                    times.expires_at.timestamp(),
                    remind_time(cal, org[0] == "leerplicht", now, timing),
                ],
            )
        except sqlite3.IntegrityError:
            raise Conflict("id_reused") from None
        role = RECEIVING_ROLE[org[0]]
        _store_envelopes(db, signal_id, role, rows, now)
        add_event(db, signal_id, now, Event.SENT, len(rows))
        push.enqueue(
            db,
            [d for d, _ in rows],
            signal_id,
            Push.NEW_SIGNAL,
            times.expires_at.timestamp(),
            now,
            timing.quiet,
            times.deadline.timestamp(),
        )
    return {
        "id": signal_id,
        "ref": ref,
        "deadline": times.deadline.isoformat(),
        "expires_at": times.expires_at.isoformat(),
        "holiday_warning": calendar.holiday_warning_text(times),
    }


def _store_envelopes(
    db: Store, signal_id: str, role: str, rows: list[tuple[str, str]], now: float
) -> None:
    db.conn.executemany(
        "INSERT INTO envelopes (signal_id, device_id, role, envelope, sealed_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [(signal_id, device_id, role, envelope, now) for device_id, envelope in rows],
    )


def add_event(
    db: Store,
    signal_id: str,
    now: float,
    kind: str,
    count: int | None = None,
    detail: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO signal_events (signal_id, at, kind, count, detail) VALUES (?, ?, ?, ?, ?)",
        [signal_id, now, kind, count, detail],
    )


# --- opening -------------------------------------------------------------------------------


def _signal_for(db: Store, actor: Actor, signal_id: str) -> sqlite3.Row:
    """The signal if this device's person may act on it; 404 alike for absent and not-yours."""
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM signals WHERE id = ?", [signal_id]
    ).fetchone()
    if row is None or not _may_see(db, actor, row):
        raise NotFound("not_found")
    return row


def _may_see(db: Store, actor: Actor, signal: sqlite3.Row) -> bool:
    if actor.role in ("contact", "officer") and actor.org_id == signal["holder_org_id"]:
        return True
    if actor.role == "officer" and signal["acted_by"] is not None:
        # Officers see what their own office relayed, so a late colleague learns it (409).
        return (
            db.execute(
                "SELECT 1 FROM people WHERE id = ? AND org_id = ?",
                [signal["acted_by"], actor.org_id],
            ).fetchone()
            is not None
        )
    if actor.role == "teacher":
        return (
            db.execute(
                "SELECT 1 FROM signal_teachers WHERE signal_id = ? AND person_id = ?",
                [signal["id"], actor.person_id],
            ).fetchone()
            is not None
        )
    return False


GONE = NotFound("removed")


def open_envelope(
    db: Store, actor: Actor, signal_id: str, now: float, timing: Timing
) -> dict[str, Any]:
    """This device's envelope. A teacher's first open starts the self-destruct."""
    if actor.role == "teacher":
        return _open_teacher_copy(db, actor, signal_id, now, timing)
    with db.transaction():
        signal = _signal_for(db, actor, signal_id)
        row = db.execute(
            "UPDATE envelopes SET opened_at = coalesce(opened_at, ?) "
            "WHERE signal_id = ? AND device_id = ? RETURNING envelope",
            [now, signal_id, actor.device_id],
        ).fetchone()
        if row is None:
            raise GONE
        if signal["state"] in (State.SENT, State.RELAYED):
            db.execute("UPDATE signals SET state = ? WHERE id = ?", [State.OPENED, signal_id])
            add_event(db, signal_id, now, Event.OPENED)
    return {"envelope": msgspec.json.decode(row[0]), "state": _state(db, signal_id)}


def _open_teacher_copy(
    db: Store, actor: Actor, signal_id: str, now: float, timing: Timing
) -> dict[str, Any]:
    with db.transaction():
        _signal_for(db, actor, signal_id)
        # The atomic one-time claim: only the first device's update finds an unopened row;
        # a reload on that same device within the grace period is still served.
        row = db.execute(
            "UPDATE envelopes SET opened_at = coalesce(opened_at, ?) "
            "WHERE signal_id = ? AND device_id = ? AND (opened_at IS NULL OR opened_at > ?) "
            "RETURNING envelope, opened_at",
            [now, signal_id, actor.device_id, now - timing.view_grace],
        ).fetchone()
        if row is None:
            raise _opened_elsewhere(db, signal_id, actor) or GONE
        # The teacher's other devices lose their copy at once.
        db.erase(
            "DELETE FROM envelopes WHERE signal_id = ? AND role = 'teacher' "
            "AND device_id != ? AND device_id IN "
            "(SELECT id FROM devices WHERE person_id = ?)",
            [signal_id, actor.device_id, actor.person_id],
        )
        first_view = db.execute(
            "UPDATE signal_teachers SET viewed_at = ?, viewed_device_id = ? WHERE signal_id = ? "
            "AND person_id = ? AND viewed_at IS NULL",
            [now, actor.device_id, signal_id, actor.person_id],
        ).rowcount
        if first_view:
            _after_teacher_view(db, signal_id, now)
    return {
        "envelope": msgspec.json.decode(row[0]),
        "state": _state(db, signal_id),
        "delete_at": row[1] + timing.view_grace,
    }


def _opened_elsewhere(db: Store, signal_id: str, actor: Actor) -> NotFound | None:
    """The teacher opened it on another of their devices: say which, and when."""
    row = db.execute(
        "SELECT d.label, t.viewed_at FROM signal_teachers t JOIN devices d "
        "ON d.id = t.viewed_device_id WHERE t.signal_id = ? AND t.person_id = ? "
        "AND t.viewed_device_id != ?",
        [signal_id, actor.person_id, actor.device_id],
    ).fetchone()
    if row is None:
        return None
    return NotFound("opened_elsewhere", opened_on=row[0], opened_at=_iso(row[1]))


def _after_teacher_view(db: Store, signal_id: str, now: float) -> None:
    add_event(db, signal_id, now, Event.TEACHER_VIEWED)
    unseen = db.execute(
        "SELECT count(*) FROM signal_teachers WHERE signal_id = ? AND viewed_at IS NULL",
        [signal_id],
    ).fetchone()[0]
    if unseen == 0:
        db.execute(
            "UPDATE signals SET state = ? WHERE id = ? AND state = ?",
            [State.VIEWED, signal_id, State.FORWARDED],
        )
        add_event(db, signal_id, now, Event.VIEWED)


def _state(db: Store, signal_id: str) -> str:
    row = db.execute("SELECT state FROM signals WHERE id = ?", [signal_id]).fetchone()
    return row[0] if row else "gone"


def teacher_done(db: Store, actor: Actor, signal_id: str, now: float) -> dict[str, Any]:
    """'Gelezen': the teacher's copy goes now instead of after the grace period."""
    with db.transaction():
        _signal_for(db, actor, signal_id)
        db.erase(
            "DELETE FROM envelopes WHERE signal_id = ? AND role = 'teacher' AND device_id "
            "IN (SELECT id FROM devices WHERE person_id = ?)",
            [signal_id, actor.person_id],
        )
    return {"state": _state(db, signal_id)}


# --- acting on it --------------------------------------------------------------------------


def forward_signal(
    db: Store,
    actor: Actor,
    signal_id: str,
    teacher_ids: list[str],
    envelopes: list[DeviceEnvelope],
    now: float,
    timing: Timing,
) -> dict[str, Any]:
    with db.transaction():
        signal = _signal_for(db, actor, signal_id)
        if actor.role != "contact" or signal["state"] not in UNHANDLED_STATES:
            raise _conflict(db, signal_id, "already_handled", variant="moved_on")
        teachers = [
            t for t in teacher_devices(db, signal["school_id"], teacher_ids) if t["devices"]
        ]
        if len(teachers) != len(set(teacher_ids)):
            raise Invalid("unknown_teacher")
        current = [d for t in teachers for d in t["devices"]]
        rows = _checked_envelopes(envelopes, signal["school_id"], current)
        # The other contacts' copies go; the forwarding contact keeps theirs to phone parents.
        db.erase(
            "DELETE FROM envelopes WHERE signal_id = ? AND device_id NOT IN "
            "(SELECT id FROM devices WHERE person_id = ?)",
            [signal_id, actor.person_id],
        )
        _store_envelopes(db, signal_id, "teacher", rows, now)
        db.conn.executemany(
            "INSERT INTO signal_teachers (signal_id, person_id) VALUES (?, ?)",
            [(signal_id, t["person_id"]) for t in teachers],
        )
        db.execute(
            "UPDATE signals SET state = ?, acted_by = ? WHERE id = ?",
            [State.FORWARDED, actor.person_id, signal_id],
        )
        add_event(db, signal_id, now, Event.FORWARDED, len(teachers))
        push.enqueue(
            db,
            [d for d, _ in rows],
            signal_id,
            Push.TEACHER_SIGNAL,
            signal["expires_at"],
            now,
            timing.quiet,
            signal["deadline_at"],
        )
    return {"state": State.FORWARDED}


def close_signal(
    db: Store, actor: Actor, signal_id: str, reason: CloseReason, now: float
) -> dict[str, Any]:
    """Close with a reason, or finish ('Afronden'); every envelope goes at once."""
    rule = CLOSE_RULES[reason]
    roles, from_states, new_state = rule.roles, rule.from_states, rule.to_state
    with db.transaction():
        signal = _signal_for(db, actor, signal_id)
        if actor.role not in roles or signal["holder_org_id"] != actor.org_id:
            raise Refused()
        if signal["state"] not in from_states:
            raise _conflict(db, signal_id, "already_handled")
        db.erase("DELETE FROM envelopes WHERE signal_id = ?", [signal_id])
        db.execute(
            "UPDATE signals SET state = ?, close_reason = ?, ended_at = ?, "
            "acted_by = coalesce(acted_by, ?) WHERE id = ?",
            [new_state, reason, now, actor.person_id, signal_id],
        )
        add_event(db, signal_id, now, new_state, detail=reason)
    return {"state": new_state}


def relay_signal(
    db: Store,
    actor: Actor,
    signal_id: str,
    school_id: str,
    envelopes: list[DeviceEnvelope],
    now: float,
    timing: Timing,
) -> dict[str, Any]:
    """A leerplicht officer passes the signal on to the child's school (or corrects the school
    until that school opened it); the officers' copies go."""
    with db.transaction():
        signal = _signal_for(db, actor, signal_id)
        at_office = signal["holder_org_id"] == actor.org_id and signal["state"] in (
            State.SENT,
            State.OPENED,
        )
        correcting = signal["state"] == State.RELAYED and signal["acted_by"] == actor.person_id
        if actor.role != "officer" or not (at_office or correcting):
            raise _conflict(db, signal_id, "already_handled", variant="moved_on")
        school = db.execute("SELECT kind FROM orgs WHERE id = ?", [school_id]).fetchone()
        if school is None or school[0] != "school":
            raise NotFound("unknown_recipient", variant="school")
        current = receiving_devices(db, school_id)
        rows = _checked_envelopes(envelopes, school_id, current)
        db.erase("DELETE FROM envelopes WHERE signal_id = ?", [signal_id])
        _store_envelopes(db, signal_id, "contact", rows, now)
        db.execute(
            "UPDATE signals SET state = ?, holder_org_id = ?, school_id = ?, "
            "acted_by = ?, remind_at = ? WHERE id = ?",
            [
                State.RELAYED,
                school_id,
                school_id,
                actor.person_id,
                remind_time(org_calendar(db, school_id), False, now, timing),
                signal_id,
            ],
        )
        add_event(db, signal_id, now, Event.RELAYED, len(rows))
        push.enqueue(
            db,
            [d for d, _ in rows],
            signal_id,
            Push.NEW_SIGNAL,
            signal["expires_at"],
            now,
            timing.quiet,
            signal["deadline_at"],
        )
    return {"state": State.RELAYED}


# --- what each person sees -----------------------------------------------------------------


def list_signals(
    db: Store,
    actor: Actor,
    now: float,
    timing: Timing,
    signal_id: str | None = None,
) -> list[dict[str, Any]]:
    """The signals this caller may see: status and timeline, never content (with `signal_id`:
    that one only, when the caller may see it). One query per view, whatever the rows."""
    only = (" AND s.id = ?", [signal_id]) if signal_id is not None else ("", [])
    if actor.role == "sender":
        return _sender_view(db, "s.sender_org_id = ?", [actor.org_id], only)
    if actor.role == "officer":
        held = _holder_view(
            db,
            actor,
            "s.holder_org_id = ? OR s.acted_by IN (SELECT id FROM people WHERE org_id = ?)",
            [actor.org_id, actor.org_id],
            only,
        )
        sent = _sender_view(db, "s.sender_org_id = ?", [actor.org_id], only)
        return held + [s | {"sent_by_us": True} for s in sent]
    if actor.role == "contact":
        return _holder_view(db, actor, "s.holder_org_id = ?", [actor.org_id], only)
    if actor.role == "teacher":
        return _teacher_view(db, actor, now, timing, only)
    return []


def get_signal(
    db: Store, actor: Actor, signal_id: str, now: float, timing: Timing
) -> dict[str, Any]:
    """One signal as the list shows it to this caller (an office's own copy before what it
    sent); 404 alike for absent and not-yours."""
    found = list_signals(db, actor, now, timing, signal_id)
    if not found:
        raise NotFound("not_found")
    return dict(found[0])


Only = tuple[str, list[Any]]  # an extra "AND s.id = ?" and its parameter, or nothing

SIGNAL_COLUMNS = """s.id, s.ref, s.state, s.sent_at, s.deadline_at, s.expires_at,
    s.escalated_at, s.close_reason, s.ended_at, s.acted_by, s.holder_org_id,
    school.name AS school_name, holder.name AS holder_name, holder.kind AS holder_kind,
    holder.phone AS holder_phone, sender.name AS sender_name, sender.phone AS sender_phone"""
SIGNAL_FROM = """FROM signals s LEFT JOIN orgs school ON school.id = s.school_id
    JOIN orgs holder ON holder.id = s.holder_org_id
    JOIN orgs sender ON sender.id = s.sender_org_id"""
# A signal's timeline and its chosen teachers as JSON arrays, in the row's own query (as
# CALENDAR_ROW does for free days): no query per row. The inner ORDER BY sets the order. JSON
# gives a real 15 digits, too few for a timestamp's microseconds: `at` goes as 17-digit text.
TIMELINE_COLUMN = """(SELECT json_group_array(json_array(printf('%!.17g', at), kind, count,
    detail)) FROM
    (SELECT at, kind, count, detail FROM signal_events WHERE signal_id = s.id
     ORDER BY at, rowid)) AS timeline"""
TEACHERS_COLUMN = """(SELECT json_group_array(json_array(name, class_label, viewed_at)) FROM
    (SELECT p.name, p.class_label, t.viewed_at FROM signal_teachers t
     JOIN people p ON p.id = t.person_id WHERE t.signal_id = s.id ORDER BY p.name)) AS teachers"""


def _summary(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "ref": row["ref"],
        "state": row["state"],
        "sent_at": _iso(row["sent_at"]),
        "deadline": _iso(row["deadline_at"]),
        "expires_at": _iso(row["expires_at"]),
        "escalated": row["escalated_at"] is not None,
        "close_reason": row["close_reason"],
        "school": row["school_name"],
        "holder": row["holder_name"],
        "holder_kind": row["holder_kind"],
        "holder_phone": row["holder_phone"],
        "sender": row["sender_name"],
        "sender_phone": row["sender_phone"],
    }


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def _sender_view(db: Store, where: str, params: list[Any], only: Only) -> list[dict[str, Any]]:
    rows = db.execute(
        f"SELECT {SIGNAL_COLUMNS}, {TIMELINE_COLUMN} {SIGNAL_FROM} "  # noqa: S608
        f"WHERE ({where}){only[0]} ORDER BY s.sent_at DESC LIMIT {LIST_MAX_SIGNALS}",
        [*params, *only[1]],
    ).fetchall()
    return [_summary(r) | {"timeline": _timeline(r["timeline"])} for r in rows]


def _timeline(events: str) -> list[dict[str, Any]]:
    return [
        {"at": _iso(float(at)), "kind": kind, "count": count, "detail": detail}
        for at, kind, count, detail in json.loads(events)
    ]


def _holder_view(
    db: Store, actor: Actor, where: str, params: list[Any], only: Only
) -> list[dict[str, Any]]:
    rows = db.execute(
        f"SELECT {SIGNAL_COLUMNS}, e.device_id IS NOT NULL AS has_copy, "  # noqa: S608
        f"actor.name AS acted_by_name, {TEACHERS_COLUMN} {SIGNAL_FROM} "
        "LEFT JOIN envelopes e ON e.signal_id = s.id AND e.device_id = ? "
        "LEFT JOIN people actor ON actor.id = s.acted_by "
        f"WHERE ({where}){only[0]} ORDER BY s.sent_at DESC LIMIT {LIST_MAX_SIGNALS}",
        [actor.device_id, *params, *only[1]],
    ).fetchall()
    return [
        _summary(r)
        | {
            "has_copy": bool(r["has_copy"]),
            "acted_by": r["acted_by_name"],
            "acted_by_me": r["acted_by"] == actor.person_id,
            "teachers": _chosen_teachers(r["teachers"]),
        }
        for r in rows
    ]


def _chosen_teachers(teachers: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "class_label": class_label, "viewed": viewed_at is not None}
        for name, class_label, viewed_at in json.loads(teachers)
    ]


def _teacher_view(
    db: Store, actor: Actor, now: float, timing: Timing, only: Only
) -> list[dict[str, Any]]:
    rows = db.execute(
        f"SELECT {SIGNAL_COLUMNS}, e.opened_at, e.device_id IS NOT NULL AS has_copy "  # noqa: S608
        f"{SIGNAL_FROM} JOIN signal_teachers t ON t.signal_id = s.id AND t.person_id = ? "
        "LEFT JOIN envelopes e ON e.signal_id = s.id AND e.device_id = ? "
        f"WHERE s.state IN (?, ?){only[0]} ORDER BY s.sent_at DESC",
        [actor.person_id, actor.device_id, *WITH_TEACHERS, *only[1]],
    ).fetchall()
    result: list[dict[str, Any]] = []
    for r in rows:
        opened = r["opened_at"]
        fresh = r["has_copy"] and (opened is None or opened > now - timing.view_grace)
        result.append(_summary(r) | {"has_copy": bool(fresh)})
    return result
