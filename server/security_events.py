"""Security events: problems a client detected with the key log (a refused send, a fork, a
device nobody approved). A kind and organisations only: never a person, device or signal."""

from __future__ import annotations

from typing import Any

from server.db import Store

SHOWN = 200  # the admin page shows this many, newest first


def record(db: Store, kind: str, org_id: str, reporter_org_id: str | None, now: float) -> None:
    with db.transaction():
        db.execute(
            "INSERT INTO security_events (at, kind, org_id, reporter_org_id) VALUES (?, ?, ?, ?)",
            [now, kind, org_id, reporter_org_id],
        )


def recent(db: Store) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT e.at, e.kind, e.org_id, o.name AS org_name, e.reporter_org_id "
        "FROM security_events e LEFT JOIN orgs o ON o.id = e.org_id "
        "ORDER BY e.at DESC, e.id DESC LIMIT ?",
        [SHOWN],
    ).fetchall()
    return [dict(r) for r in rows]
