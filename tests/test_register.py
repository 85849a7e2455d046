"""DUO's register of school locations (server/register.py) through real HTTP and the CLI: the
sample files in tests/data/ are in DUO's own layout with made-up schools (BRIN 99Z.); the
November file renames 99ZB00, drops 99ZA01 and adds 99ZF00 in Eemnes."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import holiday_regions, regions, register, signals
from server.cli import main as hwc
from server.models import NewRegion
from tests.support import World, new_signal_id, seal

DATA = Path(__file__).parent / "data"
OCTOBER = (DATA / "duo_vestigingen_2026_10.csv").read_text(encoding="utf-8")
NOVEMBER = (DATA / "duo_vestigingen_2026_11.csv").read_text(encoding="utf-8")


def _school(world: World, code: str) -> dict:
    row = world.db.execute("SELECT * FROM orgs WHERE code = ?", [code]).fetchone()
    return dict(row)


def _found(sender, query: str) -> list[str]:
    return [s["code"] for s in sender.get("/api/schools", params={"q": query}).json()]


def test_the_register_imports_locations_with_their_holiday_region(world: World) -> None:
    admin = world.member("admin", None)
    imported = admin.post("/api/admin/schools/import", json={"csv": OCTOBER})
    assert imported.status_code == 201
    assert imported.json() == {
        "imported": 6,
        "new": 6,
        "renamed": 0,
        "closed": 0,
        "summary": "Register geïmporteerd: 6 nieuw, 0 hernoemd, 0 gesloten, 0 ongewijzigd.",
    }
    linde = _school(world, "99ZA01")
    assert (linde["name"], linde["street"], linde["place"], linde["municipality"]) == (
        "OBS De Verzonnen Linde, dependance",
        "Kastanjelaan 12a",
        "HATTEM",
        "HATTEM",
    )
    holiday = {code: _school(world, code)["region"] for code in ("99ZA00", "99ZB00", "99ZC00")}
    # Hattem and Nijmegen are Gelderland municipalities with another region than Ede's.
    assert holiday == {"99ZA00": "noord", "99ZB00": "zuid", "99ZC00": "midden"}
    assert _school(world, "99ZE00")["region"] == "zuid"
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis"))
    assert _found(sender, "Verzonnen Linde") == ["99ZA00", "99ZA01"]
    again = admin.post("/api/admin/schools/import", json={"csv": OCTOBER})
    assert again.json()["summary"].endswith("0 nieuw, 0 hernoemd, 0 gesloten, 6 ongewijzigd.")


def test_a_newer_register_renames_adds_and_closes_and_keeps_enrolments(world: World) -> None:
    admin = world.member("admin", None)
    assert admin.post("/api/admin/schools/import", json={"csv": OCTOBER}).status_code == 201
    renamed, closing = _school(world, "99ZB00")["id"], _school(world, "99ZA01")["id"]
    contact = world.member("contact", renamed)
    closing_contact = world.member("contact", closing)
    sender = world.member("sender", world.org("veilig_thuis", "Veilig Thuis"))
    devices_before = sender.get(f"/api/schools/{closing}/recipients").json()["devices"]
    sent = world.send(sender, closing, "Kind Verzonnen", "2017-03-04")
    assert sent.status_code == 201
    people_before = world.db.execute("SELECT count(*) FROM people").fetchone()[0]

    result = admin.post("/api/admin/schools/import", json={"csv": NOVEMBER})
    assert (result.status_code, result.json()["summary"]) == (
        201,
        "Register geïmporteerd: 1 nieuw, 1 hernoemd, 1 gesloten, 4 ongewijzigd.",
    )
    after = _school(world, "99ZB00")
    assert (after["id"], after["name"], after["street"]) == (
        renamed,
        "Kindcentrum Het Bedachte Bos",
        "Nieuwe Bosweg 40",
    )
    assert contact.get("/api/me").json()["org"]["name"] == "Kindcentrum Het Bedachte Bos"
    assert _school(world, "99ZA01")["closed_at"] is not None
    assert _found(sender, "Verzonnen Linde") == ["99ZA00"]
    assert _found(sender, "99ZF") == ["99ZF00"]
    assert _school(world, "99ZF00")["region"] == "noord"  # Eemnes, in the province of Utrecht
    # The closed location keeps its people, devices and signals.
    assert world.db.execute("SELECT count(*) FROM people").fetchone()[0] == people_before
    assert closing_contact.get("/api/me").status_code == 200
    assert sent.json()["id"] in [s["id"] for s in closing_contact.get("/api/signals").json()]
    page = admin.get(f"/admin/orgs/{closing}")
    assert "gesloten" in page.text
    # A sender who still has its id is told to phone; a send made before the closing is refused.
    refused = sender.get(f"/api/schools/{closing}/recipients")
    assert (refused.status_code, refused.json()["error"]) == (409, "school_closed")
    assert "gesloten volgens het register van DUO" in refused.json()["message"]
    late_id = new_signal_id()
    late = sender.post(
        "/api/signals",
        json={
            "id": late_id,
            "recipient_id": closing,
            "envelopes": seal(devices_before, late_id, "Kind Verzonnen", "2017-03-04"),
        },
    )
    assert (late.status_code, late.json()["error"]) == (409, "school_closed")
    # In a later file again: open once more, counted as new.
    reopened = admin.post("/api/admin/schools/import", json={"csv": OCTOBER})
    assert reopened.json()["summary"].startswith("Register geïmporteerd: 1 nieuw, 1 hernoemd, ")
    assert _school(world, "99ZA01")["closed_at"] is None


def test_the_admin_overrides_a_schools_holiday_region_and_imports_keep_it(world: World) -> None:
    admin = world.member("admin", None)
    admin.post("/api/admin/schools/import", json={"csv": OCTOBER})
    ede = _school(world, "99ZC00")["id"]
    changed = admin.post(f"/api/admin/orgs/{ede}/region", json={"region": "zuid"})
    assert changed.status_code == 200
    admin.post("/api/admin/schools/import", json={"csv": NOVEMBER})
    assert _school(world, "99ZC00")["region_override"] == "zuid"
    assert signals.org_calendar(world.db, ede).region == "zuid"
    assert "regio zuid (afwijkend van de gemeente)" in admin.get(f"/admin/orgs/{ede}").text
    back = admin.post(f"/api/admin/orgs/{ede}/region", json={})
    assert back.status_code == 200
    assert signals.org_calendar(world.db, ede).region == "midden"
    wrong = admin.post(f"/api/admin/orgs/{ede}/region", json={"region": "oost"})
    assert (wrong.status_code, wrong.json()["field"]) == (422, "region")
    vt = world.org("veilig_thuis", "Veilig Thuis")
    assert admin.post(f"/api/admin/orgs/{vt}/region", json={"region": "noord"}).status_code == 404
    teacher = world.member("teacher", ede)
    assert teacher.post(f"/api/admin/orgs/{ede}/region", json={}).status_code == 403


def test_a_register_file_with_missing_columns_or_a_bad_row_changes_nothing(world: World) -> None:
    admin = world.member("admin", None)
    no_street = OCTOBER.replace("STRAATNAAM;", "STRAAT;", 1)
    refused = admin.post("/api/admin/schools/import", json={"csv": no_street})
    assert (refused.status_code, refused.json()["field"]) == (422, "csv")
    assert refused.json()["message"] == "In het DUO-bestand ontbreken de kolommen: STRAATNAAM."
    lines = OCTOBER.splitlines(keepends=True)
    twice = "".join([*lines, lines[1]])
    duplicate = admin.post("/api/admin/schools/import", json={"csv": twice})
    assert duplicate.json()["message"] == (
        "Regel 8: vestiging 99ZA00 staat twee keer in het bestand"
    )
    abroad = OCTOBER.replace("Limburg;", "Atlantis;", 1)
    unknown = admin.post("/api/admin/schools/import", json={"csv": abroad})
    assert unknown.json()["message"] == "Regel 7: onbekende provincie, dus geen vakantieregio"
    hidden = OCTOBER.replace("Het Bedachte Bos", "Het Bedachte \u202eBos", 1)
    refused_name = admin.post("/api/admin/schools/import", json={"csv": hidden})
    assert refused_name.json()["message"].startswith("Regel 4: De naam bevat een onzichtbaar teken")
    world.org("veilig_thuis", "Veilig Thuis", code="99ZC00")
    taken = admin.post("/api/admin/schools/import", json={"csv": OCTOBER})
    assert (taken.status_code, taken.json()["message"]) == (409, "De code 99ZC00 is al in gebruik.")
    assert world.db.execute("SELECT count(*) FROM orgs WHERE code LIKE '99Z%'").fetchone()[0] == 1


def test_hwc_import_register(world: World, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    database = world.app.state.settings.database
    # DUO's files may come in Windows-1252; the command reads both.
    october = tmp_path / "oktober.csv"
    october.write_bytes(OCTOBER.replace("Linde", "Lindé").encode("cp1252"))
    assert hwc(["import-register", str(october), "--database", database]) == 0
    assert capsys.readouterr().out.strip() == (
        "Register geïmporteerd: 6 nieuw, 0 hernoemd, 0 gesloten, 0 ongewijzigd."
    )
    assert _school(world, "99ZA00")["name"] == "OBS De Verzonnen Lindé"
    november = tmp_path / "november.csv"
    november.write_text(NOVEMBER, encoding="utf-8")
    assert hwc(["import-register", str(november), "--database", database]) == 0
    assert "1 nieuw, 2 hernoemd, 1 gesloten" in capsys.readouterr().out
    bad = tmp_path / "leeg.csv"
    bad.write_text("naam;plaats\n", encoding="utf-8")
    assert hwc(["import-register", str(bad), "--database", database]) == 1
    assert "In het DUO-bestand ontbreken de kolommen: PROVINCIE" in capsys.readouterr().err


def test_holiday_regions_follow_the_municipality_then_the_province() -> None:
    assert holiday_regions.region_of("'S-HERTOGENBOSCH", "Noord-Brabant") == "zuid"
    assert holiday_regions.region_of("ALTENA", "NOORD-BRABANT") == "midden"
    assert holiday_regions.region_of("Zeewolde", "Flevoland") == "midden"
    assert holiday_regions.region_of("Almere", "Flevoland") == "noord"
    assert holiday_regions.region_of("Arnhem", "Gelderland") == "zuid"
    assert holiday_regions.region_of("Apeldoorn", "Gelderland") == "midden"
    assert holiday_regions.region_of("ALTENA", "NOORD-BRABANT", "HANK") == "zuid"
    assert holiday_regions.region_of("De Ronde Venen", "Utrecht", "Abcoude") == "noord"
    assert holiday_regions.region_of("De Ronde Venen", "Utrecht", "Mijdrecht") == "midden"
    assert holiday_regions.region_of("Ergens", "") is None
    assert set(holiday_regions.PROVINCES.values()) == {"noord", "midden", "zuid"}


def test_a_national_register_imports_through_http_in_one_go(world: World) -> None:
    """About 9,000 locations (more than the country's primary schools) in DUO's layout fit the
    import's body limit and import, then re-import unchanged, each in one transaction."""
    header, first = OCTOBER.splitlines()[:2]
    rows = [
        first.replace("99ZA;00", f"{n // 100:02d}Z{chr(65 + n % 26)};{n % 100:02d}").replace(
            "OBS De Verzonnen Linde", f"Basisschool Nummer {n}"
        )
        for n in range(9000)
    ]
    text = "\n".join([header, *rows]) + "\n"
    assert len(text.encode()) < 2_000_000
    admin = world.member("admin", None)
    imported = admin.post("/api/admin/schools/import", json={"csv": text}, timeout=60)
    assert (imported.status_code, imported.json()["new"]) == (201, 9000)
    again = admin.post("/api/admin/schools/import", json={"csv": text}, timeout=60)
    assert again.json()["summary"].endswith("0 gesloten, 9000 ongewijzigd.")
    # The overview lists the first 100 by name and finds any other (a read: GET with ?q=).
    page = admin.get("/admin").text
    assert page.count('<li><a href="/admin/orgs/') == 100
    assert "De eerste 100 van 9000 scholen op naam" in page
    found = admin.get("/admin", params={"q": "Nummer 4321"}).text
    assert found.count('<li><a href="/admin/orgs/') == 1 and "Basisschool Nummer 4321<" in found
    assert "1 gevonden voor “Nummer 4321”, van 9000 scholen." in found
    by_code = admin.get("/admin", params={"q": "43zf21"}).text  # 4321: 43ZF + 21, any case
    assert by_code.count('<li><a href="/admin/orgs/') == 1
    nothing = admin.get("/admin", params={"q": "Bestaat Niet"}).text
    assert "Geen school gevonden." in nothing


def test_a_location_code_given_whole_or_as_a_number_is_the_same_key() -> None:
    """Some DUO files give VESTIGINGSCODE as the number (00), others as BRIN and number."""
    whole = OCTOBER.replace("99ZA;00;", "99ZA;99ZA00;", 1)
    assert [loc.code for loc in register.parse(whole)] == [
        loc.code for loc in register.parse(OCTOBER)
    ]
    assert register.parse(OCTOBER)[0].code == "99ZA00"
    assert register.is_register(OCTOBER) and not register.is_register("name,place,code\n")


def test_a_region_admin_imports_only_the_rows_of_its_municipalities(world: World) -> None:
    now = world.now()
    veluwe = regions.create_region(world.db, NewRegion("Veluwe", "Hattem; Nijmegen"), now)
    south = regions.create_region(world.db, NewRegion("Zuid", "maastricht"), now)
    region_admin = world.device(world.person("admin", None, region_id=veluwe))
    first = region_admin.post("/api/admin/schools/import", json={"csv": OCTOBER})
    assert (first.status_code, first.json()["outside"]) == (201, 3)
    assert first.json()["summary"] == (
        "Register geïmporteerd: 3 nieuw, 0 hernoemd, 0 gesloten, 0 ongewijzigd. Buiten uw regio: 3."
    )
    assert {_school(world, c)["region_id"] for c in ("99ZA00", "99ZA01", "99ZB00")} == {veluwe}
    assert world.db.execute("SELECT 1 FROM orgs WHERE code = '99ZC00'").fetchone() is None

    # The instance admin's import is national; a location of no region gets the region whose
    # municipalities hold its own, and the region admin's schools keep theirs.
    admin = world.member("admin", None)
    national = admin.post("/api/admin/schools/import", json={"csv": OCTOBER}).json()
    assert "outside" not in national and national["new"] == 3
    assert _school(world, "99ZE00")["region_id"] == south
    assert _school(world, "99ZC00")["region_id"] is None
    assert _school(world, "99ZB00")["region_id"] == veluwe

    # A location of the region's municipalities that belongs to another region is left alone.
    with world.db.transaction():
        world.db.execute("UPDATE orgs SET region_id = ? WHERE code = '99ZA00'", [south])
    later = region_admin.post("/api/admin/schools/import", json={"csv": NOVEMBER}).json()
    assert later["summary"] == (
        "Register geïmporteerd: 0 nieuw, 1 hernoemd, 1 gesloten, 0 ongewijzigd. Buiten uw regio: 5."
    )
    assert _school(world, "99ZA01")["closed_at"] is not None
    assert _school(world, "99ZB00")["name"] == "Kindcentrum Het Bedachte Bos"
    assert world.db.execute("SELECT 1 FROM orgs WHERE code = '99ZF00'").fetchone() is None
    # An organisation's admin imports nothing.
    school_admin = world.member("admin", _school(world, "99ZB00")["id"])
    assert school_admin.post("/api/admin/schools/import", json={"csv": OCTOBER}).status_code == 403


def test_a_region_admins_file_cannot_move_a_school_of_no_region_into_its_region(
    world: World,
) -> None:
    """A school of no region is the instance admin's. A region admin's file that lists its code
    under one of the region's municipalities neither renames it nor takes it into the region
    (which would hand its people to the region admin): where the school is on record counts,
    not where the file says it is."""
    now = world.now()
    veluwe = regions.create_region(world.db, NewRegion("Veluwe", "Hattem"), now)
    typed_in = world.org(name="Basisschool De Regenboog", code="12AB00", place="Utrecht")
    admin = world.member("admin", None)
    assert admin.post("/api/admin/schools/import", json={"csv": OCTOBER}).status_code == 201
    before = [_school(world, "12AB00"), _school(world, "99ZE00")]  # Maastricht, of no region
    header, first = OCTOBER.splitlines()[:2]
    rows = [
        first.replace("99ZA;00;OBS De Verzonnen Linde", f"{code[:4]};{code[4:]};Overgenomen")
        for code in ("12AB00", "99ZE00")
    ]
    region_admin = world.device(world.person("admin", None, region_id=veluwe))
    answer = region_admin.post(
        "/api/admin/schools/import", json={"csv": "\n".join([header, *rows])}
    )
    assert (answer.status_code, answer.json()["outside"]) == (201, 2)
    assert [_school(world, code) for code in ("12AB00", "99ZE00")] == before
    for org_id in (typed_in, before[1]["id"]):
        assert region_admin.get(f"/admin/orgs/{org_id}").status_code == 404


def test_a_school_code_typed_in_by_a_region_admin_goes_where_the_register_puts_it(
    world: World,
) -> None:
    """A region admin types in a school with a code the register later lists in another
    region's municipality (by mistake, or to receive that school's signals): the national
    import puts it in the region of its municipality; one the register already listed keeps
    the region it has."""
    now = world.now()
    twente = regions.create_region(world.db, NewRegion("Twente", "Enschede"), now)
    south = regions.create_region(world.db, NewRegion("Zuid", "Maastricht"), now)
    region_admin = world.device(world.person("admin", None, region_id=twente))
    school = {"kind": "school", "name": "Nepschool", "code": "99ZE00", "region": "zuid"}
    made = region_admin.post("/api/admin/orgs", json=school | {"place": "Enschede"})
    assert made.status_code == 201, made.text
    admin = world.member("admin", None)
    assert admin.post("/api/admin/schools/import", json={"csv": OCTOBER}).status_code == 201
    moved = _school(world, "99ZE00")
    assert (moved["name"], moved["region_id"]) == ("Basisschool De Proefmaas", south)
    assert region_admin.get(f"/admin/orgs/{made.json()['id']}").status_code == 404
    with world.db.transaction():  # listed once, it stays where an admin put it
        world.db.execute("UPDATE orgs SET region_id = ? WHERE code = '99ZE00'", [twente])
    assert admin.post("/api/admin/schools/import", json={"csv": OCTOBER}).status_code == 201
    assert _school(world, "99ZE00")["region_id"] == twente
