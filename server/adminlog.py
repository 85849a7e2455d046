"""The admin audit trail ("Beheerlog", issue 23 item 4): who made a link, enrolled, approved,
declined, revoked, reset, created or erased which person or device, made or revoked which
organisation API key, and registered, approved, declined or revoked which sending system's key,
and when.

One row per act, written by `record` (an API key's: `record_key`) inside the transaction of the
act, from the domain functions (server/auth.py, directory.py, approvals.py), never from routes.
A row holds ids, roles and the kind of act: names are read from `people` while the person
exists, and erasing a person clears their ids here (server/privacy.py), so they then show as
"(verwijderd)". There is no signal and nothing about a child at any of these points, and no
column that could hold it. Rows go after `HWC_AUDIT_RETENTION_DAYS` (a timer in
server/timers.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.db import Store
from server.policy import ROLE_LABELS

if TYPE_CHECKING:
    from server.auth import Actor

SHOWN = 500  # an admin page or API answer shows this many acts, newest first

# act: (what someone did to another person, what someone did to themselves), in Dutch
ACTS: dict[str, tuple[str, str]] = {
    "link_made": (
        "maakte een aanmeldlink voor {person}",
        "maakte een aanmeldlink voor een eigen nieuw apparaat",
    ),
    "enrolled": ("meldde een apparaat aan voor {person}", "meldde een apparaat aan"),
    "device_approved": (
        "keurde een nieuw apparaat van {person} goed",
        "keurde een eigen nieuw apparaat goed",
    ),
    "device_declined": (
        "weigerde een nieuw apparaat van {person}",
        "weigerde een eigen nieuw apparaat",
    ),
    "device_revoked": ("trok een apparaat van {person} in", "trok een eigen apparaat in"),
    "person_created": ("voegde {person} toe", "voegde zichzelf toe"),
    "person_revoked": ("trok {person} in", "trok zichzelf in"),
    "person_reset": (
        "stelde de apparaten van {person} opnieuw in",
        "stelde de eigen apparaten opnieuw in",
    ),
    "person_erased": ("verwijderde alle gegevens van {person}", "verwijderde alle eigen gegevens"),
    # No route changes a role yet (the key log has the kind): the trail names it when one does.
    "role_changed": ("maakte {person} {role}", "maakte zichzelf {role}"),
    "api_key_made": ("maakte API-sleutel {key}",) * 2,
    "api_key_revoked": ("trok API-sleutel {key} in",) * 2,
    # a sending system's signing key (server/machines.py), named by the API key that registered it
    "machine_registered": ("meldde het registratiesysteem van API-sleutel {key} aan",) * 2,
    "machine_approved": ("keurde het registratiesysteem van API-sleutel {key} goed",) * 2,
    "machine_declined": ("weigerde het registratiesysteem van API-sleutel {key}",) * 2,
    "machine_revoked": ("trok het registratiesysteem van API-sleutel {key} in",) * 2,
}
ERASED = "(verwijderd)"
SERVER = "Het systeem"  # the timers, `hwc admin-link`, a device replaced at enrolment


def _actor(db: Store, by: str) -> tuple[str, str | None, str | None]:
    """(kind, id, role) of the actor named by a key log `by` (server/orglog.py)."""
    kind, _, named = by.partition(":")
    actor_id: str | None = named
    if kind == "device":
        row = db.execute("SELECT person_id FROM devices WHERE id = ?", [named]).fetchone()
        kind, actor_id = "person", row[0] if row else None
    if kind in ("admin", "person") and actor_id:
        role = db.execute("SELECT role FROM people WHERE id = ?", [actor_id]).fetchone()
        return "person", actor_id, role[0] if role else None
    if kind == "api_key":
        return "api_key", actor_id, None
    return "server", None, None


def record(
    db: Store, act: str, by: str, now: float, person_id: str, device_id: str | None = None
) -> None:
    """One act on a person (and maybe one of their devices). Call inside its transaction."""
    person = db.execute("SELECT org_id, role FROM people WHERE id = ?", [person_id]).fetchone()
    org_id, role = (person[0], person[1]) if person else (None, None)
    _insert(db, act, by, now, org_id, [person_id, role, device_id, None])


def record_key(db: Store, act: str, by: str, now: float, org_id: str, key_id: str) -> None:
    """One act on an organisation's API key. Call inside its transaction."""
    _insert(db, act, by, now, org_id, [None, None, None, key_id])


def record_machine(db: Store, act: str, by: str, now: float, org_id: str, key_id: str) -> None:
    """One act on a sending system's key, named by the API key that registered it (its own id
    is in the key log; here it would outlive the key's row). Call inside its transaction."""
    _insert(db, act, by, now, org_id, [None, None, None, key_id])


def _insert(
    db: Store, act: str, by: str, now: float, org_id: str | None, target: list[str | None]
) -> None:
    """`target`: person id, their role, device id, API key id."""
    assert act in ACTS, act
    kind, actor_id, actor_role = _actor(db, by)
    db.execute(
        "INSERT INTO admin_log (at, org_id, act, actor_kind, actor_id, actor_role, person_id, "
        "person_role, device_id, api_key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [now, org_id, act, kind, actor_id, actor_role, *target],
    )


# --- reading -------------------------------------------------------------------------------

QUERY = """
SELECT l.id, l.at, l.act, l.actor_kind, l.actor_id, l.actor_role, a.name AS actor_name,
       l.person_id, l.person_role, p.name AS person_name, l.device_id, l.api_key_id,
       k.label AS api_key_label
FROM admin_log l
LEFT JOIN people a ON l.actor_kind = 'person' AND a.id = l.actor_id
LEFT JOIN people p ON p.id = l.person_id
LEFT JOIN api_keys k ON k.id = l.api_key_id
WHERE {where} ORDER BY l.at DESC, l.id DESC LIMIT ?
"""


def _rows(db: Store, where: str, params: list[Any]) -> list[dict[str, Any]]:
    rows = db.execute(QUERY.format(where=where), [*params, SHOWN]).fetchall()
    return [shown(dict(r)) for r in rows]


def of_org(db: Store, org_id: str) -> list[dict[str, Any]]:
    return _rows(db, "l.org_id = ?", [org_id])


def of_no_org(db: Store) -> list[dict[str, Any]]:
    """Acts about people of no organisation: region and instance admins."""
    return _rows(db, "l.org_id IS NULL", [])


def of_person(db: Store, person_id: str) -> list[dict[str, Any]]:
    """Acts about the person, and acts by them."""
    return _rows(
        db, "l.person_id = ? OR (l.actor_kind = 'person' AND l.actor_id = ?)", [person_id] * 2
    )


def may_read(db: Store, actor: Actor, org_id: str | None) -> bool:
    """The admins above the organisation; acts about people of none (admins) only for those
    who manage every organisation."""
    from server import scope  # scope builds on auth, which records acts here

    if actor.role != "admin":
        return False
    if org_id is None:
        return scope.managed_org_ids(db, actor) is None
    return scope.manages_org(db, actor, org_id)


def _named(name: str | None, role: str | None) -> str:
    label = f" ({ROLE_LABELS[role]})" if role in ROLE_LABELS else ""
    return f"{name or ERASED}{label}"


def _key(key_id: str | None, label: str | None) -> str:
    """An API key as the page's list shows it: its label beside its id (the id alone once the
    key itself is gone)."""
    return f"'{label}' ({key_id})" if label else str(key_id)


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the API and the page show it, with its Dutch sentence."""
    if row["actor_kind"] == "person":
        actor = _named(row["actor_name"], row["actor_role"])
    else:
        actor = SERVER if row["actor_kind"] == "server" else "Een API-sleutel"
    other, own = ACTS[row["act"]]
    itself = row["actor_id"] is not None and row["actor_id"] == row["person_id"]
    phrase = (own if itself else other).format(
        person=row["person_name"] or ERASED,
        role=ROLE_LABELS.get(row["person_role"] or "", ""),
        key=_key(row["api_key_id"], row["api_key_label"]),
    )
    return {
        "at": row["at"],
        "act": row["act"],
        "text": f"{actor} {phrase}",
        "actor": {
            "kind": row["actor_kind"],
            "id": row["actor_id"],
            "role": row["actor_role"],
            "name": row["actor_name"],
        },
        "person": {
            "kind": "person",
            "id": row["person_id"],
            "role": row["person_role"],
            "name": row["person_name"],
        },
        "device_id": row["device_id"],
        "api_key_id": row["api_key_id"],
    }
