"""The directory: schools, sender organisations, people and their devices (plain functions)."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import date
from typing import Any

from server import adminlog, calendar, orglog, privacy, scope
from server.auth import Actor, new_id
from server.db import Store
from server.errors import Conflict, DomainError, Invalid, NotFound, Refused
from server.models import NewOrg, NewPerson, TextRefused

PHONE = re.compile(r"[0-9+() -]*")  # as models.PhoneNumber

ORG_ROLES = {
    "school": ("contact", "teacher"),
    "veilig_thuis": ("sender",),
    "leerplicht": ("officer", "sender"),
}


def create_org(db: Store, org: NewOrg, now: float) -> str:
    if org.kind == "school" and (not org.code or org.region is None):
        raise Invalid("school_fields", field="code")
    org_id = new_id()
    try:
        with db.transaction():
            db.execute(
                "INSERT INTO orgs (id, kind, name, place, code, region, municipalities, route, "
                "phone, region_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    org_id,
                    org.kind,
                    org.name.strip(),
                    org.place.strip(),
                    org.code or None,
                    org.region if org.kind == "school" else None,
                    org.municipalities.strip(),
                    org.route,
                    org.phone.strip(),
                    org.region_id,
                    now,
                ],
            )
    except sqlite3.IntegrityError:
        raise Conflict("code_taken", say={"code": org.code}, field="code") from None
    return org_id


def set_phone(db: Store, org_id: str, phone: str) -> None:
    with db.transaction():
        changed = db.execute("UPDATE orgs SET phone = ? WHERE id = ?", [phone.strip(), org_id])
    if not changed.rowcount:
        raise NotFound("unknown_org")


def import_schools_csv(db: Store, text: str, now: float, region_id: str | None = None) -> int:
    """CSV with a header row name,place,code,region,phone (region and phone optional);
    all rows or none; a region admin's schools belong to their region."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or not {"name", "place", "code"} <= set(reader.fieldnames):
        raise Invalid("csv_header", field="csv")
    with db.transaction():
        count = 0
        for line, row in enumerate(reader, start=2):
            try:
                org = NewOrg(
                    kind="school",
                    name=row["name"],
                    place=row.get("place") or "",
                    code=(row["code"] or "").strip().upper(),
                    region=(row.get("region") or "midden").strip().lower(),  # type: ignore[arg-type]
                    phone=(row.get("phone") or "").strip(),
                    region_id=region_id,
                )
                _check_school_row(org)
                create_org(db, org, now)
            except (DomainError, ValueError, TypeError) as exc:
                problem = _row_problem(exc)
                raise Invalid(
                    "csv_row", say={"line": line, "problem": problem}, field="csv"
                ) from None
            count += 1
    return count


def _row_problem(error: Exception) -> DomainError | str:
    """What was wrong with a CSV row: a domain error, the validator's own Dutch words, or
    "ongeldige waarde" (a type error's text is English and may quote the value)."""
    if isinstance(error, DomainError):
        return error
    return str(error) if isinstance(error, TextRefused) else "ongeldige waarde"


def _check_school_row(org: NewOrg) -> None:
    if (
        not org.name.strip()
        or not org.code.isalnum()
        or org.region not in ("noord", "midden", "zuid")
    ):
        raise ValueError("bad school row")
    if len(org.phone) > 20 or not PHONE.fullmatch(org.phone):
        raise ValueError("bad phone number")


def add_free_days(db: Store, org_id: str, start: date, end: date | None) -> int:
    """A school's own free days (study days, a different holiday week)."""
    if (
        db.execute("SELECT 1 FROM orgs WHERE id = ? AND kind = 'school'", [org_id]).fetchone()
        is None
    ):
        raise NotFound("unknown_school")
    try:
        days = calendar.expand_ranges([(start, end or start)])
    except ValueError:
        raise Invalid("bad_range", field="to") from None
    if len(days) > calendar.MAX_RANGE_DAYS:
        raise Invalid("bad_range", variant="too_long", field="to")
    with db.transaction():
        db.conn.executemany(
            "INSERT OR IGNORE INTO free_days (org_id, day) VALUES (?, ?)",
            [(org_id, day.isoformat()) for day in sorted(days)],
        )
    return len(days)


def import_free_days_csv(db: Store, text: str, managed: set[str] | None = None) -> int:
    """Free days for many schools at once (code,from,to); the whole file or nothing. A school
    outside `managed` (the caller's organisations; None: every one) is an unknown code."""
    try:
        ranges = calendar.parse_free_days_csv(text)
    except ValueError as error:
        raise Invalid("csv_row", text=str(error), field="csv") from None
    schools = {
        code: org_id
        for org_id, code in db.execute("SELECT id, code FROM orgs WHERE kind = 'school'").fetchall()
        if managed is None or org_id in managed
    }
    unknown = sorted(set(ranges) - set(schools))
    if unknown:
        raise Invalid("unknown_code", say={"codes": ", ".join(unknown)}, field="csv")
    with db.transaction():
        return sum(
            add_free_days(db, schools[code], start, end)
            for code, periods in ranges.items()
            for start, end in periods
        )


def create_person(db: Store, person: NewPerson, now: float, by: str = "server") -> str:
    """A person; one of an organisation is added to its key log in the same transaction. An
    admin belongs to an organisation (its admin), to a region, or to neither (the instance)."""
    if person.org_id is not None and person.region_id is not None:
        raise Invalid("admin_scope", field="region_id")
    if person.role != "admin" or person.org_id is not None:
        org = db.execute("SELECT kind FROM orgs WHERE id = ?", [person.org_id]).fetchone()
        if org is None or person.role not in ("admin", *ORG_ROLES[org[0]]):
            raise Invalid("role_org", field="role")
    if person.region_id is not None and person.role != "admin":
        raise Invalid("role_org", field="role")
    org_id = person.org_id
    person_id = new_id()
    with db.transaction():
        db.execute(
            "INSERT INTO people (id, org_id, region_id, name, role, class_label, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                person_id,
                org_id,
                person.region_id,
                person.name.strip(),
                person.role,
                person.class_label.strip(),
                now,
            ],
        )
        if org_id is not None:
            orglog.append(db, org_id, "person_added", by, now, person=person_id, role=person.role)
        adminlog.record(db, "person_created", by, now, person_id)
    return person_id


def person(db: Store, person_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT p.*, o.name AS org_name, o.kind AS org_kind FROM people p "
        "LEFT JOIN orgs o ON o.id = p.org_id WHERE p.id = ?",
        [person_id],
    ).fetchone()
    return row


def revoke_device(
    db: Store,
    device_id: str,
    now: float,
    key_lost: bool = False,
    by: str = "server",
    act: str = "device_revoked",
) -> None:
    """A revoked device can do nothing more, and its envelopes go at once; a device the key log
    names active gets its `device_revoked` entry in the same transaction (a pending one, or a
    row written beside the log, has none to end). `act`: what the audit trail calls it."""
    with db.transaction():
        row = db.execute(
            "SELECT d.person_id, p.org_id, d.revoked_at FROM devices d "
            "JOIN people p ON p.id = d.person_id WHERE d.id = ?",
            [device_id],
        ).fetchone()
        _revoke_device_rows(db, device_id, now, key_lost)
        if row is not None and row[2] is None:
            adminlog.record(db, act, by, now, row[0], device_id)
        current = orglog.state(db, row[1]) if row is not None and row[1] is not None else None
        if current is not None and orglog.logged_active(current, device_id):
            orglog.append(
                db,
                row[1],
                "device_revoked",
                by,
                now,
                current=current,
                person=row[0],
                device=device_id,
            )


def _revoke_device_rows(db: Store, device_id: str, now: float, key_lost: bool = False) -> None:
    db.execute(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, ?), push = NULL, "
        "key_state = CASE WHEN ? THEN 'lost' ELSE key_state END WHERE id = ?",
        [now, key_lost, device_id],
    )
    db.erase("DELETE FROM envelopes WHERE device_id = ?", [device_id])
    db.execute("DELETE FROM outbox WHERE device_id = ? AND state = 'pending'", [device_id])


def revoke_person_devices(db: Store, person_id: str, now: float) -> None:
    """Every device of the person, pending ones too. Call inside a transaction."""
    for (device_id,) in db.execute(
        "SELECT id FROM devices WHERE person_id = ? AND revoked_at IS NULL", [person_id]
    ).fetchall():
        _revoke_device_rows(db, device_id, now)


def revoke_person(
    db: Store, person_id: str, now: float, by: str = "server", act: str | None = "person_revoked"
) -> None:
    """The person and all their devices end, with one `person_revoked` entry in the log (and,
    unless `act` is None, one in the audit trail)."""
    with db.transaction():
        row = db.execute(
            "UPDATE people SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING org_id",
            [now, person_id],
        ).fetchone()
        revoke_person_devices(db, person_id, now)
        if row is not None and act is not None:
            adminlog.record(db, act, by, now, person_id)
        if row is not None and row[0] is not None:
            orglog.append(db, row[0], "person_revoked", by, now, person=person_id)


def orgs(
    db: Store,
    kind: str | None = None,
    region_id: str | None = None,
    query: str = "",
    limit: int = -1,
) -> list[sqlite3.Row]:
    """Organisations (of one kind, of one region, whose name, place or code holds `query`), by
    name; at most `limit` (-1: all)."""
    pattern = _like(query)
    return db.execute(
        "SELECT o.*, r.name AS region_name FROM orgs o LEFT JOIN regions r ON r.id = o.region_id "
        "WHERE (? IS NULL OR o.kind = ?) AND (? IS NULL OR o.region_id = ?) "
        "AND (o.name LIKE ? OR o.place LIKE ? OR o.code LIKE ?) ORDER BY o.name LIMIT ?",
        [kind, kind, region_id, region_id, pattern, pattern, pattern, limit],
    ).fetchall()


def _like(query: str) -> str:
    """A LIKE pattern for text holding `query` (its own wildcards dropped)."""
    return f"%{query.strip().replace('%', '').replace('_', '')}%"


def count_orgs(db: Store, kind: str, region_id: str | None = None) -> int:
    return int(
        db.execute(
            "SELECT count(*) FROM orgs WHERE kind = ? AND (? IS NULL OR region_id = ?)",
            [kind, region_id, region_id],
        ).fetchone()[0]
    )


def find_schools(
    db: Store, query: str, kinds: tuple[str, ...] = ("school",), limit: int = 20
) -> list[dict[str, Any]]:
    """Find by name, place, code or (leerplicht) municipality; case-insensitive. Closed school
    locations (no longer in DUO's register) are not found."""
    pattern = _like(query)
    marks = ",".join("?" * len(kinds))
    rows = db.execute(
        f"SELECT id, kind, name, place, code, municipalities FROM orgs WHERE kind IN ({marks}) "  # noqa: S608
        "AND closed_at IS NULL "
        "AND (name LIKE ? OR place LIKE ? OR code LIKE ? OR municipalities LIKE ?) "
        "ORDER BY name LIMIT ?",
        [*kinds, pattern, pattern, pattern, pattern, limit],
    ).fetchall()
    return [dict(r) for r in rows]


def people_with_devices(
    db: Store,
    org_id: str | None = None,
    role: str | None = None,
    region_id: str | None = None,
    no_org: bool = False,
) -> list[dict[str, Any]]:
    """People with their devices: of one organisation, role or region (a region's admins);
    `no_org`: only people of no organisation (instance and region admins)."""
    clauses, params = ["1 = 1"], []
    for clause, value in (("p.org_id", org_id), ("p.role", role), ("p.region_id", region_id)):
        if value is not None:
            clauses.append(f"{clause} = ?")
            params.append(value)
    if no_org:
        clauses.append("p.org_id IS NULL")
    where = " AND ".join(clauses)  # fixed clauses; values are parameters
    people = db.execute(
        "SELECT p.*, o.name AS org_name, r.name AS region_name FROM people p "  # noqa: S608
        "LEFT JOIN orgs o ON o.id = p.org_id LEFT JOIN regions r ON r.id = p.region_id "
        f"WHERE {where} ORDER BY o.name, r.name, p.role, p.name",
        params,
    ).fetchall()
    result = []
    for p in people:
        devices = db.execute(
            "SELECT id, label, push_state, key_state, pending, created_at, "
            "last_seen_at, revoked_at FROM devices WHERE person_id = ? "
            "ORDER BY created_at",
            [p["id"]],
        ).fetchall()
        result.append(dict(p) | {"devices": [dict(d) for d in devices]})
    return result


def org(db: Store, org_id: str | None) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute("SELECT * FROM orgs WHERE id = ?", [org_id]).fetchone()
    return row


def upcoming_free_days(db: Store, org_id: str, today: str, limit: int = 60) -> list[str]:
    rows = db.execute(
        "SELECT day FROM free_days WHERE org_id = ? AND day >= ? ORDER BY day LIMIT ?",
        [org_id, today, limit],
    ).fetchall()
    return [r[0] for r in rows]


# --- one device, for its own app -------------------------------------------------------------


def device_profile(db: Store, device_id: str) -> sqlite3.Row:
    """The device with its person and organisation, as /api/me shows them."""
    row: sqlite3.Row = db.execute(
        "SELECT d.id, d.label, d.public_key, d.sig_key, d.pending, d.push_state, d.quiet_hours, "
        "p.id AS person_id, p.name, p.role, "
        "p.class_label, o.id AS org_id, o.name AS org_name, o.kind AS org_kind, "
        "o.route AS org_route FROM devices d "
        "JOIN people p ON p.id = d.person_id LEFT JOIN orgs o ON o.id = p.org_id "
        "WHERE d.id = ?",
        [device_id],
    ).fetchone()
    return row


def sibling_devices(db: Store, person_id: str, device_id: str) -> list[dict[str, Any]]:
    """The person's other active devices, {id, label}, oldest first."""
    rows = db.execute(
        "SELECT id, label FROM devices WHERE person_id = ? AND id != ? "
        "AND revoked_at IS NULL AND pending = 0 ORDER BY created_at",
        [person_id, device_id],
    ).fetchall()
    return [dict(r) for r in rows]


def set_push(db: Store, device_id: str, subscription: str | None) -> None:
    """Replace the device's push subscription (None: no pushes); failures so far are forgotten."""
    with db.transaction():
        db.execute(
            "UPDATE devices SET push = ?, push_state = ?, push_failing_since = NULL WHERE id = ?",
            [subscription, "active" if subscription else "none", device_id],
        )


def set_quiet_hours(db: Store, device_id: str, quiet_hours: str | None) -> None:
    """The device's own quiet hours: None (the setting), "off", or "HH:MM-HH:MM"."""
    if quiet_hours and quiet_hours != calendar.QUIET_OFF:
        try:
            calendar.QuietHours.parse(quiet_hours)
        except ValueError:
            raise Invalid("bad_quiet_hours") from None
    with db.transaction():
        db.execute("UPDATE devices SET quiet_hours = ? WHERE id = ?", [quiet_hours, device_id])


# --- who manages whom ------------------------------------------------------------------------


def may_register(db: Store, actor: Actor, person: NewPerson) -> None:
    """Admins register people of the organisations they manage (server/scope.py), and only
    the instance admin registers region and instance admins; a contact only teachers of their
    own school. An organisation outside the caller's scope is as unknown as a missing one."""
    if actor.role == "contact":
        if person.org_id != actor.org_id:
            raise NotFound("unknown_org")
        if person.role != "teacher":
            raise Refused()
    elif person.org_id is not None:
        scope.managed_org(db, actor, person.org_id)
    else:
        scope.require_instance(actor)
        if person.region_id is not None:
            scope.managed_region(db, actor, person.region_id)


def manageable_person(db: Store, actor: Actor, person_id: str) -> sqlite3.Row:
    """A person the caller manages (server/scope.py; a contact: the teachers of their own
    school); anyone else is as unknown as someone who does not exist."""
    found = person(db, person_id)
    if found is None or not _manages(db, actor, found):
        raise NotFound()
    return found


def _manages(db: Store, actor: Actor, found: sqlite3.Row) -> bool:
    if actor.role == "contact":
        return bool(found["role"] == "teacher" and found["org_id"] == actor.org_id)
    return scope.manages_person(db, actor, found)


def device_owner(db: Store, device_id: str) -> str:
    row = db.execute("SELECT person_id FROM devices WHERE id = ?", [device_id]).fetchone()
    if row is None:
        raise NotFound()
    return str(row[0])


def erase_leaver(db: Store, actor: Actor, person_id: str, now: float) -> None:
    """Someone who leaves: everything held about them goes at once (docs/gegevens.md); the key
    log keeps ids only, and says the person was revoked."""
    found = manageable_person(db, actor, person_id)
    if found["id"] == actor.person_id:
        raise Conflict("erase_self")
    with db.transaction():
        by = orglog.by_staff(actor.role, actor.person_id)
        revoke_person(db, found["id"], now, by, act=None)
        adminlog.record(db, "person_erased", by, now, found["id"])
        privacy.erase_person(db, found["id"])
