"""Seeding bench databases before a server starts: the directory, devices, stored signals.

Organisations and people are made with `server.directory`, devices are inserted directly
(the credential hash is SHA-256 of the secret, as `server.auth` keeps it), and stored signals
are bulk-inserted in one transaction. Signal content is opaque to the server, so seeded
envelopes are real hwc-envelope-v1 ciphertext made once per device and reused: well formed and
of realistic size (the server never decrypts).
"""

from __future__ import annotations

import json
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from server import db as database
from server import directory, orglog, push
from server.auth import COOKIE, new_id, secret_hash
from server.db import Store
from server.envelope import (
    b64u_encode,
    encode_content,
    encrypt_envelope,
    generate_device_key,
    new_signal_id,
)
from server.models import NewOrg, NewPerson
from server.signals import REF_ALPHABET

CONTENT = encode_content("Bench Kind van der Test", "2016-03-14")


@dataclass
class Dev:
    id: str
    person_id: str
    credential: str
    public_key: bytes

    @property
    def cookie(self) -> str:
        return f"{COOKIE}={self.credential}"


@dataclass
class School:
    id: str
    contacts: list[Dev]  # one device per contact person


@dataclass
class OpenItem:
    """A signal forwarded to a teacher: the teacher device that may open it once."""

    signal_id: str
    device: Dev


@dataclass
class World:
    path: str
    now: float
    sender_org: str = ""
    senders: list[Dev] = field(default_factory=list)
    schools: list[School] = field(default_factory=list)
    push_school: School | None = None
    open_pool: list[list[OpenItem]] = field(default_factory=list)  # per teacher device
    # Teachers with a second device holding its own copy: the first open erases that copy.
    open_pool_2dev: list[list[OpenItem]] = field(default_factory=list)
    contention: list[tuple[str, list[Dev]]] = field(default_factory=list)
    fanout: int = 0
    stored: int = 0
    vapid_private_key: str = ""
    subscriptions: list[dict] = field(default_factory=list)


class Refs:
    """Unique reference codes for seeded signals (the server makes random ones)."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        n, chars = self.n, []
        self.n += 1
        for _ in range(4):
            n, digit = divmod(n, len(REF_ALPHABET))
            chars.append(REF_ALPHABET[digit])
        return "HWC-" + "".join(chars)


def _device(
    db: Store,
    person_id: str,
    now: float,
    push: dict | None = None,
    last_seen: float | None = None,
) -> Dev:
    _, public_key = generate_device_key()
    device_id, secret = new_id(), secrets.token_urlsafe(32)
    db.execute(
        "INSERT INTO devices (id, person_id, label, public_key, credential_hash, push, "
        "push_state, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            device_id,
            person_id,
            "bench",
            public_key,
            secret_hash(secret),
            json.dumps(push) if push else None,
            "active" if push else "none",
            now - 86400,
            now - 3600 if last_seen is None else last_seen,
        ],
    )
    org_id = orglog.person_org(db, person_id)
    if org_id is not None:  # all seeded by "server": the key log's genesis prefix
        fields = orglog.device_fields(person_id, device_id, public_key, None)
        orglog.append(db, org_id, "device_added", "server", now, how="migrated", **fields)
    return Dev(device_id, person_id, f"{device_id}.{secret}", public_key)


def _person(db: Store, role: str, org_id: str, now: float, n: int) -> str:
    return directory.create_person(
        db,
        NewPerson(name=f"Bench {role} {n}", role=role, org_id=org_id, class_label="groep 5"),
        now,
    )


def _school(
    db: Store,
    n: int,
    now: float,
    contacts: int = 2,
    pushes: list[dict] | None = None,
) -> School:
    org_id = directory.create_org(
        db,
        NewOrg(
            kind="school",
            name=f"Bench school {n}",
            place="Utrecht",
            code=f"B{n:05d}",
            region="midden",
        ),
        now,
    )
    devs = [
        _device(db, _person(db, "contact", org_id, now, i), now, push=pushes[i] if pushes else None)
        for i in range(contacts)
    ]
    return School(org_id, devs)


def _envelope_text(dev: Dev) -> str:
    env = encrypt_envelope(dev.public_key, "A" * 22, dev.id, CONTENT)
    return json.dumps(env, separators=(",", ":"))


def seed(
    path: str,
    *,
    schools: int = 100,
    senders: int = 0,
    open_teachers: int = 0,
    opens_per_teacher: int = 50,
    contention_trials: int = 0,
    contention_devices: int = 50,
    stored: int = 0,
    push_school_subs: list[dict] | None = None,
    fanout_subs: list[dict] | None = None,
    open_teachers_2dev: int = 0,
    contact_subs: list[dict] | None = None,
) -> World:
    """Make a database at `path`; everything in one transaction (one fsync)."""
    now = time.time()
    rng = random.Random(20261124)
    refs = Refs()
    db = database.connect(path)
    # This connection only: bulk inserts in memory, and no per-row foreign-key lookups (the
    # rows are made consistent here; the server's own connections keep foreign_keys=ON).
    db.execute("PRAGMA cache_size = -262144")
    db.execute("PRAGMA foreign_keys = OFF")
    world = World(path=path, now=now)
    world.vapid_private_key = b64u_encode(
        push.vapid_private_key(db, "").private_numbers().private_value.to_bytes(32, "big")
    )
    with db.transaction():
        sender_org = directory.create_org(
            db, NewOrg(kind="veilig_thuis", name="Veilig Thuis Bench"), now
        )
        world.sender_org = sender_org
        world.senders = [
            _device(db, _person(db, "sender", sender_org, now, i), now) for i in range(senders)
        ]
        # contact_subs: two push subscriptions per school, for its two contact devices.
        world.schools = [
            _school(db, i, now, pushes=contact_subs[2 * i : 2 * i + 2] if contact_subs else None)
            for i in range(schools)
        ]
        if push_school_subs:
            world.push_school = _school(db, 90000, now, len(push_school_subs), push_school_subs)
        # Teachers with signals forwarded to them, each to be opened once.
        signals: list[tuple] = []
        events: list[tuple] = []
        teachers: list[tuple] = []
        envelopes: list[tuple] = []
        outbox: list[tuple] = []
        for t in range(open_teachers + open_teachers_2dev):
            school = world.schools[t % len(world.schools)]
            person = _person(db, "teacher", school.id, now, t)
            devs = [_device(db, person, now) for _ in range(1 if t < open_teachers else 2)]
            texts = [_envelope_text(d) for d in devs]
            contact = school.contacts[0]
            items = []
            for _ in range(opens_per_teacher):
                sid = new_signal_id(now)
                _forwarded(
                    signals,
                    events,
                    teachers,
                    envelopes,
                    sid,
                    refs.next(),
                    sender_org,
                    school.id,
                    contact,
                    person,
                    now,
                )
                envelopes += [
                    (sid, d.id, "teacher", text, None) for d, text in zip(devs, texts, strict=True)
                ]
                items.append(OpenItem(sid, devs[0]))
            (world.open_pool if t < open_teachers else world.open_pool_2dev).append(items)
        # One teacher with many devices: each contention signal has an envelope per device.
        if contention_trials:
            school = world.schools[0]
            person = _person(db, "teacher", school.id, now, 99999)
            devs = [_device(db, person, now) for _ in range(contention_devices)]
            texts = [_envelope_text(d) for d in devs]
            for _ in range(contention_trials):
                sid = new_signal_id(now)
                _forwarded(
                    signals,
                    events,
                    teachers,
                    envelopes,
                    sid,
                    refs.next(),
                    sender_org,
                    school.id,
                    school.contacts[0],
                    person,
                    now,
                )
                envelopes += [
                    (sid, d.id, "teacher", text, None) for d, text in zip(devs, texts, strict=True)
                ]
                world.contention.append((sid, devs))
        # Stored history: the signals a server holds within the retention period.
        if stored:
            _history(
                db, world, rng, refs, stored, signals, events, teachers, envelopes, outbox, now
            )
        # Pushes waiting in the outbox, one per subscribed device (the fan-out).
        if fanout_subs:
            org = directory.create_org(
                db,
                NewOrg(kind="school", name="Bench fan-out school", code="FANOUT", region="midden"),
                now,
            )
            person = _person(db, "contact", org, now, 0)
            for sub in fanout_subs:
                dev = _device(db, person, now, push=sub)
                outbox.append(
                    (dev.id, new_signal_id(now), "new_signal", now + 86400, "pending", 0, now, now)
                )
            world.fanout = len(fanout_subs)
        db.conn.executemany(
            "INSERT INTO signals (id, ref, sender_org_id, holder_org_id, school_id, state, "
            "sent_at, deadline_at, expires_at, reminded_at, ended_at, close_reason, acted_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            signals,
        )
        db.conn.executemany(
            "INSERT INTO signal_events (signal_id, at, kind, count, detail) VALUES (?, ?, ?, ?, ?)",
            events,
        )
        db.conn.executemany(
            "INSERT INTO signal_teachers (signal_id, person_id, viewed_at) VALUES (?, ?, ?)",
            teachers,
        )
        db.conn.executemany(
            "INSERT INTO envelopes (signal_id, device_id, role, envelope, "
            "opened_at) VALUES (?, ?, ?, ?, ?)",
            envelopes,
        )
        db.conn.executemany(
            "INSERT INTO outbox (device_id, signal_id, kind, expires_at, state, attempts, "
            "due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            outbox,
        )
    world.stored = db.execute("SELECT count(*) FROM signals").fetchone()[0]
    db.conn.close()  # the last connection: the WAL is folded into the file
    return world


def _forwarded(
    signals: list,
    events: list,
    teachers: list,
    envelopes: list,
    sid: str,
    ref: str,
    sender_org: str,
    school_id: str,
    contact: Dev,
    teacher_person: str,
    now: float,
) -> None:
    """A signal a contact forwarded ten minutes ago; the contact keeps their own copy."""
    sent = now - 900
    signals.append(
        (
            sid,
            ref,
            sender_org,
            school_id,
            school_id,
            "forwarded",
            sent,
            now + 86400,
            now + 2 * 86400,
            None,
            None,
            None,
            contact.person_id,
        )
    )
    events += [
        (sid, sent, "sent", 2, None),
        (sid, sent + 120, "opened", None, None),
        (sid, sent + 300, "forwarded", 1, None),
    ]
    teachers.append((sid, teacher_person, None))
    envelopes.append((sid, contact.id, "contact", _contact_text(contact), sent + 120))


_CONTACT_TEXT: dict[str, str] = {}


def _contact_text(dev: Dev) -> str:
    if dev.id not in _CONTACT_TEXT:
        _CONTACT_TEXT[dev.id] = _envelope_text(dev)
    return _CONTACT_TEXT[dev.id]


# Shares of the stored history: mostly ended within the 14-day retention, some still open.
HISTORY = (
    ("done", 50),
    ("closed", 25),
    ("expired", 15),
    ("sent", 2),
    ("opened", 2),
    ("forwarded", 3),
    ("viewed", 3),
)


def _history(
    db: Store,
    world: World,
    rng: random.Random,
    refs: Refs,
    count: int,
    signals: list,
    events: list,
    teachers: list,
    envelopes: list,
    outbox: list,
    now: float,
) -> None:
    states = [s for s, share in HISTORY for _ in range(share)]
    school_teacher = {
        s.id: _person(db, "teacher", s.id, now, 50000 + i) for i, s in enumerate(world.schools)
    }
    for i in range(count):
        school = world.schools[i % len(world.schools)]
        state = states[i % len(states)]
        ended = state in ("done", "closed", "expired")
        # Ended ones within the last 13 days (not yet purged); open ones from this morning,
        # already reminded, with their deadline and expiry ahead: no timer is due.
        sent = now - rng.uniform(3600, 13 * 86400) if ended else now - rng.uniform(2400, 7200)
        sid = new_signal_id(sent)
        ended_at = min(sent + rng.uniform(600, 86400), now - 60) if ended else None
        contact = school.contacts[0]
        signals.append(
            (
                sid,
                refs.next(),
                world.sender_org,
                school.id,
                school.id,
                state,
                sent,
                sent + 86400 if ended else now + 86400,
                sent + 2 * 86400 if ended else now + 2 * 86400,
                None if state == "forwarded" else sent + 1800,
                ended_at,
                {"closed": "told_in_person"}.get(state, "done" if state == "done" else None),
                contact.person_id if state not in ("sent", "opened") else None,
            )
        )
        events.append((sid, sent, "sent", 2, None))
        for dev in school.contacts:
            outbox.append((dev.id, sid, "new_signal", sent + 86400, "sent", 1, sent, sent))
        if state in ("sent", "opened"):
            for dev in school.contacts:
                opened_at = sent + 60 if state == "opened" else None
                envelopes.append((sid, dev.id, "contact", _contact_text(dev), opened_at))
            if state == "opened":
                events.append((sid, sent + 60, "opened", None, None))
            continue
        events.append((sid, sent + 60, "opened", None, None))
        if state in ("forwarded", "viewed", "done"):
            events.append((sid, sent + 300, "forwarded", 1, None))
            teachers.append(
                (sid, school_teacher[school.id], None if state == "forwarded" else sent + 900)
            )
            if state == "forwarded":
                envelopes.append((sid, contact.id, "contact", _contact_text(contact), sent + 60))
        if ended:
            events.append((sid, ended_at, state, None, None))


def intake_body(school: School, signal_id: str) -> bytes:
    """A POST /api/signals body as the sending app makes it: one envelope per contact device."""
    envelopes = [
        {"device_id": d.id, "envelope": encrypt_envelope(d.public_key, signal_id, d.id, CONTENT)}
        for d in sorted(school.contacts, key=lambda d: d.id)
    ]
    body: dict[str, Any] = {"id": signal_id, "recipient_id": school.id, "envelopes": envelopes}
    return json.dumps(body, separators=(",", ":")).encode()
