"""Security events: problems a client detected with the key log (a refused send, a fork, a
device nobody approved). A kind and organisations only: never a person, device or signal."""

from __future__ import annotations

from typing import Any

from server.db import Store
from server.presentation import SECURITY_KINDS

SHOWN = 200  # the admin page shows this many, newest first
SHOWN_TO_ORG = 20  # an organisation's own people see this many about it
# What an organisation's own people are told about: a signal in its name that did not verify.
ABOUT_SENDER = ("bad_signature",)


def record(db: Store, kind: str, org_id: str, reporter_org_id: str | None, now: float) -> None:
    with db.transaction():
        db.execute(
            "INSERT INTO security_events (at, kind, org_id, reporter_org_id) VALUES (?, ?, ?, ?)",
            [now, kind, org_id, reporter_org_id],
        )


def recent(db: Store, org_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """The newest events about the organisations `org_ids` (None: every one). A reporter
    outside `org_ids` is not named: which school got a signal is not the caller's to know."""
    where, params = ("", []) if org_ids is None else (_in("e.org_id", org_ids), sorted(org_ids))
    rows = db.execute(
        "SELECT e.at, e.kind, e.org_id, o.name AS org_name, e.reporter_org_id "  # noqa: S608
        f"FROM security_events e LEFT JOIN orgs o ON o.id = e.org_id {where} "
        "ORDER BY e.at DESC, e.id DESC LIMIT ?",
        [*params, SHOWN],
    ).fetchall()
    return [_within(dict(r), org_ids) for r in rows]


def _within(event: dict[str, Any], org_ids: set[str] | None) -> dict[str, Any]:
    if org_ids is not None and event["reporter_org_id"] not in org_ids:
        event["reporter_org_id"] = None
    return event


def _in(column: str, values: set[str]) -> str:
    return f"WHERE {column} IN ({','.join('?' * len(values))})" if values else "WHERE 0"


def about_org(db: Store, org_id: str) -> list[dict[str, Any]]:
    """Events that name this organisation as the claimed sender, newest first, with their
    Dutch label: a kind and a time only (not who reported it)."""
    marks = ",".join("?" * len(ABOUT_SENDER))
    rows = db.execute(
        f"SELECT at, kind FROM security_events WHERE org_id = ? AND kind IN ({marks}) "  # noqa: S608
        "ORDER BY at DESC, id DESC LIMIT ?",
        [org_id, *ABOUT_SENDER, SHOWN_TO_ORG],
    ).fetchall()
    return [{"at": r["at"], "kind": r["kind"], "label": SECURITY_KINDS[r["kind"]]} for r in rows]
