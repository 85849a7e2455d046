"""Stand-in for the regions branch's server/scope.py (issue 23 contract): only instance admins
(an admin with no organisation) manage organisations here. The regions version replaces this
file at merge."""

from __future__ import annotations

from server.auth import Actor
from server.db import Store


def managed_org_ids(db: Store, actor: Actor) -> set[str] | None:
    """The organisations the actor manages; None: every one (an instance admin)."""
    if actor.role == "admin" and actor.org_id is None:
        return None
    return set()


def manages_org(db: Store, actor: Actor, org_id: str) -> bool:
    return managed_org_ids(db, actor) is None
