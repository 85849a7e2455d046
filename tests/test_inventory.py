"""The data inventory (docs/gegevens.md) holds to the live schema, and the privacy documents
(the inventory, the DPIA, the app's privacy page) state the retention the code applies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from server import db as database
from server.db import Store
from server.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "docs" / "gegevens.md"
DPIA = ROOT / "docs" / "dpia.md"
PRIVACY_PAGE = ROOT / "pwa" / "views" / "privacy.js"

SECTION = re.compile(r"^### `(\w+)`")
COLUMN_ROW = re.compile(r"^\| `(\w+)` \|(.*)\|\s*$")
CELLS_PER_ROW = 6  # after the column: inhoud, persoonsgegeven, doel, grondslag, wie, bewaard
# How the documents name a setting with its default: `HWC_X` (standaard 30).
SETTING_DEFAULT = re.compile(r"`(HWC_\w+)` \(standaard ([^)]+)\)")
RETENTION_SETTINGS = (
    "HWC_VIEW_GRACE_MINUTES",
    "HWC_MAX_DAYS",
    "HWC_STATUS_RETENTION_DAYS",
    "HWC_REVOKED_RETENTION_DAYS",
    "HWC_ENROL_TOKEN_DAYS",
    "HWC_TOKEN_RETENTION_DAYS",
    "HWC_AUDIT_RETENTION_DAYS",
)
DEFAULTS = {s.env: str(s.default) for s in SETTINGS}


@dataclass
class TableEntry:
    retention: str = ""
    columns: dict[str, list[str]] = field(default_factory=dict)


def read_inventory(text: str) -> dict[str, TableEntry]:
    """Each `### `table`` section: its "Bewaartermijn:" line and one row per column."""
    tables: dict[str, TableEntry] = {}
    current: TableEntry | None = None
    for line in text.splitlines():
        if section := SECTION.match(line):
            current = tables.setdefault(section.group(1), TableEntry())
        elif current is not None and line.startswith("Bewaartermijn:"):
            current.retention = line.removeprefix("Bewaartermijn:").strip()
        elif current is not None and (row := COLUMN_ROW.match(line)):
            current.columns[row.group(1)] = [c.strip() for c in row.group(2).split("|")]
    return tables


def schema_columns(db: Store) -> set[tuple[str, str]]:
    """Every (table, column) of the database as it is, SQLite's own tables aside."""
    tables = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    ]
    return {
        (table, column[1])
        for table in tables
        for column in db.execute(f"PRAGMA table_info({table})").fetchall()
    }


def inventory_mismatch(db: Store, text: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(columns missing from the inventory, columns the inventory names that do not exist)."""
    documented = {(t, c) for t, entry in read_inventory(text).items() for c in entry.columns}
    live = schema_columns(db)
    return sorted(live - documented), sorted(documented - live)


def test_the_inventory_names_every_column_of_the_live_schema(db_path: Path) -> None:
    db = database.connect(str(db_path))  # every migration applied
    assert database.schema_version(db) == database.SCHEMA_VERSION
    assert inventory_mismatch(db, INVENTORY.read_text()) == ([], [])
    db.close()


def test_a_column_added_without_documenting_it_fails_the_check(db_path: Path) -> None:
    db = database.connect(str(db_path))
    db.execute("ALTER TABLE devices ADD COLUMN nickname TEXT")
    db.execute("CREATE TABLE audit_trail (at REAL NOT NULL, kind TEXT NOT NULL) STRICT")
    missing, unknown = inventory_mismatch(db, INVENTORY.read_text())
    assert missing == [
        ("audit_trail", "at"),
        ("audit_trail", "kind"),
        ("devices", "nickname"),
    ]
    assert unknown == []
    db.execute("ALTER TABLE devices DROP COLUMN key_state")
    assert inventory_mismatch(db, INVENTORY.read_text())[1] == [("devices", "key_state")]
    db.close()


def test_every_column_is_described_in_full_and_every_table_has_a_retention_rule() -> None:
    tables = read_inventory(INVENTORY.read_text())
    assert len(tables) >= 12
    for table, entry in tables.items():
        assert entry.retention, f"{table}: no 'Bewaartermijn:' line"
        for column, cells in entry.columns.items():
            assert len(cells) == CELLS_PER_ROW and all(cells), f"{table}.{column}: {cells}"
            assert cells[1].startswith(("ja", "nee")), f"{table}.{column}: persoonsgegeven?"


def test_the_documents_state_the_defaults_the_code_has() -> None:
    for path in (INVENTORY, DPIA):
        stated = SETTING_DEFAULT.findall(path.read_text())
        assert stated, path
        for env, value in stated:
            assert DEFAULTS.get(env) == value, f"{path.name}: {env} (standaard {value})"
        assert set(RETENTION_SETTINGS) <= {env for env, _ in stated}, path.name


def test_the_privacy_page_states_the_defaults_the_code_has() -> None:
    terms = dict(re.findall(r"\b(HWC_\w+): (\d+)", PRIVACY_PAGE.read_text()))
    assert terms == {env: DEFAULTS[env] for env in RETENTION_SETTINGS}


def test_the_readme_links_the_privacy_documents() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "(docs/gegevens.md)" in readme and "(docs/dpia.md)" in readme
