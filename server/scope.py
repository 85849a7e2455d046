"""Who manages what. `people.role = 'admin'` is the one admin role; its scope comes from the
person's columns: `org_id` set, an organisation admin of that organisation; `region_id` set, a
region admin of the organisations with that `orgs.region_id`; neither, the instance admin.

Every admin route and page asks here. Something outside the caller's scope answers exactly as
something that does not exist (404), so ids cannot be probed across organisations or regions.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

from server.auth import Actor
from server.db import Store
from server.errors import NotFound, Refused

Scope = Literal["instance", "region", "org"]


def admin_scope(actor: Actor) -> Scope | None:
    """The caller's admin scope; None for anyone who is not an admin."""
    if actor.role != "admin":
        return None
    if actor.org_id is not None:
        return "org"
    return "region" if actor.region_id is not None else "instance"


def manages_org(db: Store, actor: Actor, org_id: str | None) -> bool:
    """Whether the caller administers the organisation (instance admin: every one)."""
    scope = admin_scope(actor)
    if scope is None or org_id is None:
        return False
    if scope == "instance":
        return True
    if scope == "org":
        return org_id == actor.org_id
    row = db.execute(
        "SELECT 1 FROM orgs WHERE id = ? AND region_id = ?", [org_id, actor.region_id]
    ).fetchone()
    return row is not None


def managed_org_ids(db: Store, actor: Actor) -> set[str] | None:
    """The organisations the caller administers; None means every organisation."""
    scope = admin_scope(actor)
    if scope == "instance":
        return None
    if scope == "org":
        return {str(actor.org_id)}
    if scope == "region":
        rows = db.execute("SELECT id FROM orgs WHERE region_id = ?", [actor.region_id])
        return {str(r[0]) for r in rows.fetchall()}
    return set()


def manages_region(actor: Actor, region_id: str | None) -> bool:
    scope = admin_scope(actor)
    return scope == "instance" or (scope == "region" and region_id == actor.region_id)


def manages_person(db: Store, actor: Actor, person: sqlite3.Row) -> bool:
    """Admins manage the people of their organisations; region and instance admins (people
    of no organisation) only the instance admin."""
    if admin_scope(actor) == "instance":
        return True
    return manages_org(db, actor, person["org_id"])


# --- the checks routes make ------------------------------------------------------------------


def managed_org(db: Store, actor: Actor, org_id: str) -> sqlite3.Row:
    """The organisation, if the caller administers it; else 404 as if it did not exist."""
    row: sqlite3.Row | None = db.execute("SELECT * FROM orgs WHERE id = ?", [org_id]).fetchone()
    if row is None or not manages_org(db, actor, org_id):
        raise NotFound("unknown_org")
    return row


def managed_region(db: Store, actor: Actor, region_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM regions WHERE id = ?", [region_id]
    ).fetchone()
    if row is None or not manages_region(actor, region_id):
        raise NotFound("unknown_region")
    return row


def require_instance(actor: Actor) -> None:
    """Only the instance admin (regions, region admins, national imports of free days)."""
    if admin_scope(actor) != "instance":
        raise Refused()


def require_admin(actor: Actor, *scopes: Scope) -> Scope:
    """The caller's scope, if it is one of `scopes`; else 403."""
    scope = admin_scope(actor)
    if scope is None or scope not in scopes:
        raise Refused()
    return scope
