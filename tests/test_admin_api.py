"""Admin API details: who may get an API key, bulk imports larger than an ordinary body."""

from __future__ import annotations

from tests.support import World


def test_api_keys_only_for_sender_organisations(world: World) -> None:
    admin = world.member("admin", None)
    school, vt = world.org(), world.org("veilig_thuis", "Veilig Thuis")
    for org_id in (school, "nope"):
        refused = admin.post("/api/admin/api-keys", json={"org_id": org_id, "label": "x"})
        assert (refused.status_code, refused.json()["error"]) == (422, "not_a_sender")
    made = admin.post("/api/admin/api-keys", json={"org_id": vt, "label": "zaaksysteem"})
    assert made.status_code == 201 and made.json()["api_key"].startswith("hwc_")


def test_a_national_school_list_imports_in_one_go(world: World) -> None:
    admin = world.member("admin", None)
    rows = "".join(f"Basisschool Nummer {n},Plaats {n},{n:04d}ZZ,midden\n" for n in range(2000))
    csv = "name,place,code,region\n" + rows
    assert len(csv) > world.app.state.settings.max_body_bytes
    imported = admin.post("/api/admin/schools/import", json={"csv": csv})
    assert (imported.status_code, imported.json()) == (201, {"imported": 2000})
    too_big = admin.post("/api/admin/schools/import", json={"csv": "x" * 2_100_000})
    assert too_big.status_code == 413
    ordinary = admin.post("/api/admin/people", json={"name": "x" * 70_000, "role": "admin"})
    assert ordinary.status_code == 413
