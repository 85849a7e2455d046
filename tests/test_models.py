"""Free text (names, labels, places) refuses hidden characters with a Dutch message, on every
path that stores it: the JSON API (which the admin pages use), the CSV import and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.cli import main as hwc
from server.envelope import b64u_encode, generate_device_key
from tests.support import World

# One of each kind: bidi override, isolate, mark and Arabic letter mark; zero-width space,
# word joiner and byte-order mark; an escape, a C1 control and a trailing line break.
HIDDEN = {
    "RLO": "\u202e",
    "LRI": "\u2066",
    "RLM": "\u200f",
    "ALM": "\u061c",
    "ZWSP": "\u200b",
    "WJ": "\u2060",
    "BOM": "\ufeff",
    "ESC": "\x1b",
    "NEL": "\x85",
    "LF": "\n",
}
FINE = ["Zoë d'Ancona-Øberg", "IJsbrand van 't Ĳssel", "محمد الأمين", "שרה כהן", "Groep 5/6b"]


def disguised(char: str) -> str:
    return f"Jan{char}nee" if char != "\n" else "Jan\n"


def org_body(field: str, value: str) -> dict[str, Any]:
    body = {"kind": "school", "name": "De Linde", "place": "Ede", "code": "HID1", "region": "noord"}
    return body | {field: value}


def person_body(field: str, value: str) -> dict[str, Any]:
    return {"name": "Jan", "role": "admin", "class_label": ""} | {field: value}


# path, body for (field, value), table and column it would be stored in, how the message
# names the field.
FIELDS: dict[str, tuple[str, Callable[[str, str], dict], str, str]] = {
    "org name": ("/api/admin/orgs", org_body, "orgs.name", "De naam"),
    "org place": ("/api/admin/orgs", org_body, "orgs.place", "De plaats"),
    "municipalities": (
        "/api/admin/orgs",
        lambda f, v: {"kind": "leerplicht", "name": "LP", "municipalities": v},
        "orgs.municipalities",
        "De lijst van gemeenten",
    ),
    "person name": ("/api/admin/people", person_body, "people.name", "De naam"),
    "class label": ("/api/admin/people", person_body, "people.class_label", "De groep"),
}


def stored(world: World, column: str, value: str) -> int:
    table, name = column.split(".")
    return int(
        world.db.execute(
            f"SELECT count(*) FROM {table} WHERE {name} = ?",  # noqa: S608
            [value.strip()],
        ).fetchone()[0]
    )


def assert_refused(response: Any, what: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "hidden_character"
    assert body["message"].startswith(what + " bevat een onzichtbaar teken")
    assert "Typ de tekst opnieuw in" in body["message"]


@pytest.mark.parametrize("kind", HIDDEN)
@pytest.mark.parametrize("field", FIELDS)
def test_admin_text_refuses_hidden_characters(field: str, kind: str, world: World) -> None:
    admin = world.member("admin", None)
    path, body, column, what = FIELDS[field]
    value = disguised(HIDDEN[kind])
    assert_refused(admin.post(path, json=body(column.split(".")[1], value)), what)
    assert stored(world, column, value) == 0


@pytest.mark.parametrize("value", FINE)
def test_names_in_any_script_are_welcome(value: str, world: World) -> None:
    admin = world.member("admin", None)
    made = admin.post(
        "/api/admin/people", json={"name": value, "role": "admin", "class_label": value[:40]}
    )
    assert made.status_code == 201, made.text
    school = admin.post("/api/admin/orgs", json=org_body("name", value) | {"place": value})
    assert school.status_code == 201, school.text


def test_device_and_api_key_labels_refuse_hidden_characters(world: World) -> None:
    admin = world.member("admin", None)
    vt = world.org("veilig_thuis", "VT Labels")
    refused = admin.post("/api/admin/api-keys", json={"org_id": vt, "label": "\u202eevil\u202c"})
    assert_refused(refused, "De omschrijving van de sleutel")
    assert world.db.execute("SELECT count(*) FROM api_keys").fetchone()[0] == 0
    token = world.enrol_link_token(world.person("teacher", world.org()))
    enrol = world.client().post(
        "/api/enrol",
        json={
            "token": token,
            "label": "\u202eevil\u202c",
            "push": None,
            "public_key": b64u_encode(generate_device_key()[1]),
            "sig_key": b64u_encode(generate_device_key()[1]),
        },
    )
    assert_refused(enrol, "De naam van dit apparaat")
    # Refused before the token is spent: the same link still enrols with a clean label.
    again = world.client().post(
        "/api/enrol",
        json={
            "token": token,
            "label": "telefoon",
            "push": None,
            "public_key": b64u_encode(generate_device_key()[1]),
            "sig_key": b64u_encode(generate_device_key()[1]),
        },
    )
    assert again.status_code == 201, again.text


def test_a_contact_naming_a_teacher_meets_the_same_rule(world: World) -> None:
    school = world.org()
    contact = world.member("contact", school)
    refused = contact.post(
        "/api/admin/people",
        json={"name": "Jan", "role": "teacher", "org_id": school, "class_label": "5\u200bb"},
    )
    assert_refused(refused, "De groep")


def test_school_csv_row_with_a_hidden_character_is_refused_by_line(world: World) -> None:
    admin = world.member("admin", None)
    csv = "name,place,code,region\nDe Linde,Ede,CSV1,noord\nDe \u202eEik,Ede,CSV2,noord\n"
    response = admin.post("/api/admin/schools/import", json={"csv": csv})
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith("Regel 3: De naam bevat een onzichtbaar teken")
    assert world.db.execute("SELECT count(*) FROM orgs WHERE code LIKE 'CSV%'").fetchone()[0] == 0


def test_cli_admin_link_refuses_a_hidden_character(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "cli.db"
    assert hwc(["admin-link", "Anna\u202e Beheer", "--database", str(database)]) == 1
    captured = capsys.readouterr()
    assert "De naam bevat een onzichtbaar teken" in captured.err
    assert "aanmelden#" not in captured.out
