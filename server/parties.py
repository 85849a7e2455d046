"""Names for the parties a signed envelope (version 3, docs/envelope.md) claims: its signer's
and its origin's organisation, and the signing device's person. The server only names the ids
the envelope itself carries; the recipient's app shows a name only for an identity the
signature proved (pwa/signer.js), so a name the server puts here for another id is never shown."""

from __future__ import annotations

from typing import Any

from server.db import Store
from server.policy import ROLE_LABELS


def claimed_names(db: Store, envelope: dict[str, Any]) -> dict[str, Any]:
    """{orgs: {id: name}, devices: {id: {person, name, role_label}}} for a version 3 envelope's
    `signer` and `origin`; empty for versions 1 and 2 (nothing is claimed)."""
    parties = [p for p in (envelope.get("signer"), envelope.get("origin")) if isinstance(p, dict)]
    if envelope.get("v") != 3 or not parties:
        return {"orgs": {}, "devices": {}}
    return {
        "orgs": _org_names(db, [str(p.get("org")) for p in parties]),
        "devices": _device_people(db, str(parties[0].get("device"))),
    }


def _org_names(db: Store, org_ids: list[str]) -> dict[str, str]:
    marks = ",".join("?" * len(org_ids))
    rows = db.execute(
        f"SELECT id, name FROM orgs WHERE id IN ({marks})",  # noqa: S608
        org_ids,
    ).fetchall()
    return {row["id"]: row["name"] for row in rows}


def _device_people(db: Store, device_id: str) -> dict[str, dict[str, str]]:
    """The signing device's person (a forward's or relay's "doorgestuurd door"); a machine
    device (`hwc send`) has none."""
    row = db.execute(
        "SELECT p.id, p.name, p.role FROM devices d JOIN people p ON p.id = d.person_id "
        "WHERE d.id = ?",
        [device_id],
    ).fetchone()
    if row is None:
        return {}
    return {
        device_id: {
            "person": row["id"],
            "name": row["name"],
            "role_label": ROLE_LABELS[row["role"]],
        }
    }
