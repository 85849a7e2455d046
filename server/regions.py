"""Regions ("regio"): a Veilig Thuis region or a partnership of municipalities that groups
organisations under its region admins (server/scope.py). Not the holiday region of a school
(`orgs.region`, noord/midden/zuid). A region's municipalities decide which rows of DUO's register
its admins import and which region a school of the national import belongs to."""

from __future__ import annotations

import re
import sqlite3

from server.auth import new_id
from server.db import Store
from server.errors import Conflict
from server.models import NewRegion

SEPARATORS = re.compile(r"[,;\n]+")


def municipality_key(name: str) -> str:
    """How municipality names are compared: case-folded, spaces trimmed (DUO writes HATTEM)."""
    return " ".join(name.split()).casefold()


def municipality_set(text: str) -> frozenset[str]:
    """A region's list as typed (commas, semicolons or one per line) as comparable keys."""
    return frozenset(k for k in map(municipality_key, SEPARATORS.split(text)) if k)


def tidy_list(text: str) -> str:
    """The list as stored: each name once, trimmed, in the order typed, comma-separated."""
    seen: dict[str, str] = {}
    for name in SEPARATORS.split(text):
        name = " ".join(name.split())
        if name and municipality_key(name) not in seen:
            seen[municipality_key(name)] = name
    return ", ".join(seen.values())


def create_region(db: Store, region: NewRegion, now: float) -> str:
    region_id = new_id()
    try:
        with db.transaction():
            db.execute(
                "INSERT INTO regions (id, name, municipalities, created_at) VALUES (?, ?, ?, ?)",
                [region_id, region.name.strip(), tidy_list(region.municipalities), now],
            )
    except sqlite3.IntegrityError:
        raise Conflict("region_taken", say={"name": region.name.strip()}, field="name") from None
    return region_id


def set_municipalities(db: Store, region_id: str, municipalities: str) -> None:
    """A region's new list: later imports follow it; schools keep the region they have."""
    with db.transaction():
        db.execute(
            "UPDATE regions SET municipalities = ? WHERE id = ?",
            [tidy_list(municipalities), region_id],
        )


def all_regions(db: Store) -> list[sqlite3.Row]:
    """Every region with how many organisations and admins it has, by name."""
    return db.execute(
        "SELECT r.*, (SELECT count(*) FROM orgs o WHERE o.region_id = r.id) AS org_count, "
        "(SELECT count(*) FROM people p WHERE p.region_id = r.id AND p.revoked_at IS NULL) "
        "AS admin_count FROM regions r ORDER BY r.name"
    ).fetchall()


def region(db: Store, region_id: str | None) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM regions WHERE id = ?", [region_id]
    ).fetchone()
    return row


def region_by_municipality(db: Store) -> dict[str, str]:
    """{municipality key: region id}; a municipality two regions list goes to the older one."""
    found: dict[str, str] = {}
    for row in db.execute("SELECT id, municipalities FROM regions ORDER BY created_at, id"):
        for key in municipality_set(row["municipalities"]):
            found.setdefault(key, row["id"])
    return found
