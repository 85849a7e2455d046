"""The national register of school locations: DUO's public file "Alle schoolvestigingen" (primary
education, onderwijsdata.duo.nl, renewed monthly) in its own layout, imported beside the schools
typed in or imported from this project's own CSV.

DUO's file is CSV with ';' between fields and one row per location. The columns read here:
PROVINCIE, INSTELLINGSCODE (the BRIN, e.g. 00AA), VESTIGINGSCODE (the location: its number
00, 01, ... or, in some files, BRIN and number together), VESTIGINGSNAAM, STRAATNAAM,
HUISNUMMER-TOEVOEGING, PLAATSNAAM, GEMEENTENAAM; the others are ignored. A location is keyed on
BRIN + number (`orgs.code`, e.g. 00AA01), so a newer file renames and moves locations in place.
A location that a newer file no longer lists is closed, never deleted: its people, devices and
signals stay, senders no longer find it (server/directory.find_schools).
"""

from __future__ import annotations

import csv
import io
import sqlite3
from dataclasses import dataclass

from server import holiday_regions, regions
from server.auth import new_id
from server.db import Store
from server.errors import Conflict, Invalid, NotFound
from server.models import TextRefused, check_text

COLUMNS = (
    "PROVINCIE",
    "INSTELLINGSCODE",
    "VESTIGINGSCODE",
    "VESTIGINGSNAAM",
    "STRAATNAAM",
    "HUISNUMMER-TOEVOEGING",
    "PLAATSNAAM",
    "GEMEENTENAAM",
)
# Free text from the file, checked as typed text is (server/models.py): how errors name it.
TEXT_COLUMNS = {
    "VESTIGINGSNAAM": "De naam",
    "STRAATNAAM": "De straat",
    "HUISNUMMER-TOEVOEGING": "Het huisnummer",
    "PLAATSNAAM": "De plaats",
    "GEMEENTENAAM": "De gemeente",
}
TEXT_MAX = 120


@dataclass(frozen=True)
class Location:
    code: str
    name: str
    street: str
    place: str
    municipality: str
    region: str


@dataclass(frozen=True)
class Changes:
    new: int
    renamed: int
    closed: int
    unchanged: int
    outside: int | None = None  # a region's import: rows of other municipalities, left alone

    @property
    def total(self) -> int:
        return self.new + self.renamed + self.unchanged

    def counts(self) -> dict[str, int | str]:
        counts: dict[str, int | str] = {
            "new": self.new,
            "renamed": self.renamed,
            "closed": self.closed,
            "summary": self.summary(),
        }
        return counts if self.outside is None else counts | {"outside": self.outside}

    def summary(self) -> str:
        """What the import changed, for the admin, in Dutch."""
        text = (
            f"Register geïmporteerd: {self.new} nieuw, {self.renamed} hernoemd, "
            f"{self.closed} gesloten, {self.unchanged} ongewijzigd."
        )
        return text if self.outside is None else f"{text} Buiten uw regio: {self.outside}."


def is_register(text: str) -> bool:
    """Whether the text is in DUO's layout (its header names the BRIN column)."""
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    return ";" in header and "INSTELLINGSCODE" in header.upper()


def parse(text: str) -> list[Location]:
    """Every location of the file; all rows or none (Invalid names the first bad line)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";")
    fields = {(f or "").strip().upper() for f in reader.fieldnames or ()}
    missing = [c for c in COLUMNS if c not in fields]
    if missing:
        raise Invalid(
            "csv_header", variant="register", say={"columns": ", ".join(missing)}, field="csv"
        )
    locations: dict[str, Location] = {}
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().upper(): (v or "").strip() for k, v in raw.items()}
        location = _location(row, line)
        if location.code in locations:
            raise _row_error(line, f"vestiging {location.code} staat twee keer in het bestand")
        locations[location.code] = location
    return list(locations.values())


def _location(row: dict[str, str], line: int) -> Location:
    _check_texts(row, line)
    brin = row["INSTELLINGSCODE"].upper()
    number = row["VESTIGINGSCODE"].upper()
    code = number if number.startswith(brin) else brin + number
    if not (brin.isalnum() and code.isalnum() and len(code) <= 12 and row["VESTIGINGSNAAM"]):
        raise _row_error(line, "BRIN-code, vestigingscode of naam ontbreekt of is ongeldig")
    region = holiday_regions.region_of(row["GEMEENTENAAM"], row["PROVINCIE"], row["PLAATSNAAM"])
    if region is None:
        raise _row_error(line, "onbekende provincie, dus geen vakantieregio")
    street = f"{row['STRAATNAAM']} {row['HUISNUMMER-TOEVOEGING']}".strip()
    return Location(
        code, row["VESTIGINGSNAAM"], street, row["PLAATSNAAM"], row["GEMEENTENAAM"], region
    )


def _check_texts(row: dict[str, str], line: int) -> None:
    for column, what in TEXT_COLUMNS.items():
        try:
            check_text(what, row[column])
        except TextRefused as refused:
            raise _row_error(line, str(refused)) from None
        if len(row[column]) > TEXT_MAX:
            raise _row_error(line, f"{what} is langer dan {TEXT_MAX} tekens")


def _row_error(line: int, problem: str) -> Invalid:
    return Invalid("csv_row", say={"line": line, "problem": problem}, field="csv")


@dataclass(frozen=True)
class ImportScope:
    """Whose import: the instance admin's (national: `region_id` None) or a region admin's,
    limited to the region's municipalities and to schools of no other region."""

    region_id: str | None = None
    municipalities: frozenset[str] = frozenset()

    def covers(self, municipality: str, school_region: str | None) -> bool:
        if self.region_id is None:
            return True
        in_list = regions.municipality_key(municipality) in self.municipalities
        return in_list and school_region in (None, self.region_id)


NATIONAL = ImportScope()


def import_scope(region: sqlite3.Row | None) -> ImportScope:
    """A region admin's import (their region's row), or the national one (None)."""
    if region is None:
        return NATIONAL
    return ImportScope(region["id"], regions.municipality_set(region["municipalities"]))


def import_register(db: Store, text: str, now: float, scope: ImportScope = NATIONAL) -> Changes:
    """Add, rename and close school locations to match the file, in one transaction. A
    location without a region gets the region whose municipalities hold its municipality."""
    locations = parse(text)
    with db.transaction():
        known = {
            row["code"]: row
            for row in db.execute(
                "SELECT id, kind, code, name, closed_at, region_id, municipality, register_seen_at "
                "FROM orgs "
                "WHERE code IS NOT NULL"
            ).fetchall()
        }
        owners = regions.region_by_municipality(db) if scope.region_id is None else {}
        new = renamed = outside = 0
        for location in locations:
            row = known.get(location.code)
            if row is not None and row["kind"] != "school":
                raise Conflict("code_taken", say={"code": location.code}, field="csv")
            if not _covers(scope, location, row):
                outside += 1
                continue
            if row is None or row["closed_at"] is not None:
                new += 1
            elif row["name"] != location.name:
                renamed += 1
            region_id = scope.region_id or owners.get(
                regions.municipality_key(location.municipality)
            )
            _store(db, location, row["id"] if row else None, now, region_id, _moves(scope, row))
        closed = _close_missing(db, {loc.code for loc in locations}, now, scope)
    unchanged = len(locations) - new - renamed - outside
    return Changes(new, renamed, closed, unchanged, None if scope.region_id is None else outside)


def _covers(scope: ImportScope, location: Location, row: sqlite3.Row | None) -> bool:
    """Whether the file's location is the importer's. A known school of no region counts where
    it is on record (a school typed in by hand: nowhere), never where the file puts it: else a
    region admin's file could take any such school, with its people, into the region."""
    if row is None or row["region_id"] is not None:
        return scope.covers(location.municipality, row["region_id"] if row else None)
    on_record = row["municipality"] or ""
    return scope.covers(on_record, None) and scope.covers(location.municipality, None)


def _moves(scope: ImportScope, row: sqlite3.Row | None) -> bool:
    """A national import puts a school typed in by hand (never in a register) in the region of
    its municipality: a region admin may have typed in another region's school code first."""
    return scope.region_id is None and row is not None and row["register_seen_at"] is None


def _store(
    db: Store,
    location: Location,
    org_id: str | None,
    now: float,
    region_id: str | None,
    moves: bool = False,
) -> None:
    """Insert a new location or bring a known one up to date (reopened if it was closed).
    `region` is the municipality's; the admin's `region_override`, if any, stays and wins, and
    so does a region the school already belongs to, unless it `moves` (see `_moves`)."""
    if org_id is None:
        db.execute(
            "INSERT INTO orgs (id, kind, name, place, code, region, street, municipality, "
            "register_seen_at, region_id, created_at) "
            "VALUES (?, 'school', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                new_id(),
                location.name,
                location.place,
                location.code,
                location.region,
                location.street,
                location.municipality,
                now,
                region_id,
                now,
            ],
        )
        return
    db.execute(
        "UPDATE orgs SET name = ?, place = ?, street = ?, municipality = ?, "
        "region = ?, register_seen_at = ?, closed_at = NULL, "
        "region_id = CASE WHEN ? THEN ? ELSE coalesce(region_id, ?) END WHERE id = ?",
        [
            location.name,
            location.place,
            location.street,
            location.municipality,
            location.region,
            now,
            moves,
            region_id,
            region_id,
            org_id,
        ],
    )


def _close_missing(db: Store, codes: set[str], now: float, scope: ImportScope) -> int:
    """Close the open locations an earlier file listed and this one does not (a region's
    import: only its own). Schools typed in by hand (never in a file) stay as they are."""
    missing = [
        row["id"]
        for row in db.execute(
            "SELECT id, code, municipality, region_id FROM orgs WHERE kind = 'school' "
            "AND register_seen_at IS NOT NULL AND closed_at IS NULL"
        ).fetchall()
        if row["code"] not in codes and scope.covers(row["municipality"], row["region_id"])
    ]
    db.conn.executemany(
        "UPDATE orgs SET closed_at = ? WHERE id = ?", [(now, org_id) for org_id in missing]
    )
    return len(missing)


def set_region_override(db: Store, org_id: str, region: str | None) -> None:
    """The admin's region for a school that follows another region's dates; None: its own
    region again (its municipality's, or as typed in). Re-imports keep it."""
    with db.transaction():
        changed = db.execute(
            "UPDATE orgs SET region_override = ? WHERE id = ? AND kind = 'school'",
            [region, org_id],
        )
    if not changed.rowcount:
        raise NotFound("unknown_school")
