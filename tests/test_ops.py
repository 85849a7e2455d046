"""Backups without signal data, restore, migrations, readiness and metrics."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server import auth, ops
from server import db as database
from server.cli import main as hwc
from tests.conftest import live_world
from tests.support import World
from tests.test_api_auth import enrol_attempt

NAME, BORN = "Xylofoon Quaggazwemmer", "2015-06-01"


def _full_flows(w: World) -> tuple[dict, list[bytes]]:
    school = w.org()
    sender = w.member("sender", w.org("veilig_thuis", "Veilig Thuis"))
    contact = w.member("contact", school)
    teacher = w.member("teacher", school)
    secrets = []
    for _ in range(3):
        signal_id = w.send(sender, school, NAME, BORN).json()["id"]
        secrets.append(signal_id.encode())
    contact.open(signal_id)
    w.forward(contact, signal_id, school, [teacher.person_id], NAME, BORN)
    for (envelope,) in w.db.execute("SELECT envelope FROM envelopes").fetchall():
        secrets.append(envelope.split('"ct":"')[1].split('"')[0].encode())
    return {"contact": contact, "teacher": teacher}, secrets


def test_backup_holds_the_directory_and_no_signal_data(tmp_path: Path) -> None:
    db_path, backup_path = tmp_path / "live.db", tmp_path / "backup.db"
    with live_world(db_path) as w:
        devices, secrets = _full_flows(w)
        assert hwc(["backup", str(backup_path), "--database", str(db_path)]) == 0
        people = w.db.execute("SELECT count(*) FROM people").fetchone()[0]
        device_count = w.db.execute("SELECT count(*) FROM devices").fetchone()[0]
    raw = backup_path.read_bytes()
    for secret in secrets:
        assert secret not in raw
    assert NAME.encode() not in raw
    copy = sqlite3.connect(backup_path)
    assert copy.execute("SELECT count(*) FROM people").fetchone()[0] == people
    assert copy.execute("SELECT count(*) FROM devices").fetchone()[0] == device_count
    for table in ops.SIGNAL_TABLES:
        assert copy.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0  # noqa: S608
    copy.close()

    # Restoring into a fresh instance: an enrolled device works at once with its cookie.
    restored = tmp_path / "restored.db"
    assert hwc(["restore", str(backup_path), "--database", str(restored)]) == 0
    assert hwc(["restore", str(backup_path), "--database", str(restored)]) == 1  # no --force
    with live_world(restored) as w2:
        contact = devices["contact"]
        cookies = {"__Host-hwc": contact.credential}
        response = httpx.get(f"{w2.url}/api/me", cookies=cookies)
        assert response.status_code == 200
        assert response.json()["person"]["role"] == "contact"
        assert httpx.get(f"{w2.url}/api/signals", cookies=cookies).json() == []


def test_a_backup_and_its_signing_key_enrol_nothing(tmp_path: Path) -> None:
    """Whoever holds a backup holds the signing key; the enrolment rows must not give them
    the ids to sign: the stored id is a hash of the id in the link."""
    db_path, backup_path = tmp_path / "live.db", tmp_path / "backup.db"
    with live_world(db_path) as w:
        person = w.person("admin", None)
        token = w.enrol_link_token(person)  # an unspent link for a pending admin
        assert hwc(["backup", str(backup_path), "--database", str(db_path)]) == 0
        copy = sqlite3.connect(backup_path)
        secret = copy.execute("SELECT value FROM meta WHERE key = 'secret_key'").fetchone()[0]
        stored = [row[0] for row in copy.execute("SELECT id FROM enrol_tokens")]
        copy.close()
        assert secret == w.app.state.secret_key and len(stored) == 1
        token_id = auth._serializer(secret).loads(token)
        assert token_id.encode() not in backup_path.read_bytes()
        for forged in [auth._serializer(secret).dumps(value) for value in stored]:
            response = enrol_attempt(w, forged)
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "token_invalid"
        assert w.db.execute("SELECT count(*) FROM devices").fetchone()[0] == 0
        # The control: the link itself still enrols, once.
        assert enrol_attempt(w, token).status_code == 201
        assert enrol_attempt(w, token).status_code == 400


def test_every_table_is_either_directory_or_signal_data(tmp_path: Path) -> None:
    db = database.connect(str(tmp_path / "t.db"))
    tables = set(db.table_names())
    assert tables == set(ops.DIRECTORY_TABLES) | set(ops.SIGNAL_TABLES) | set(ops.EVENT_TABLES)


def test_oldest_schema_migrates_with_nothing_lost(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = database.Store(conn)
    database.migrate(db, target=1)
    assert database.schema_version(db) == 1
    db.execute(
        "INSERT INTO orgs (id, kind, name, code, region, created_at) "
        "VALUES ('o1', 'school', 'Oud', 'OLD1', 'noord', 0)"
    )
    db.execute(
        "INSERT INTO people (id, org_id, name, role, created_at) "
        "VALUES ('p1', 'o1', 'Ina', 'contact', 0)"
    )
    db.execute(
        "INSERT INTO devices (id, person_id, label, public_key, credential_hash, "
        "created_at) VALUES ('d1', 'p1', 'tel', x'04', x'00', 0)"
    )
    # Links of before kept their ids in clear: an unspent one is void after the upgrade.
    db.execute(
        "INSERT INTO enrol_tokens (id, person_id, created_at, expires_at, spent_at, "
        "device_id) VALUES ('clear-spent', 'p1', 0, 1e12, 1, 'd1'), "
        "('clear-unspent', 'p1', 0, 1e12, NULL, NULL)"
    )
    conn.close()
    assert hwc(["migrate", "--database", str(path)]) == 0
    migrated = database.connect(str(path))
    assert database.schema_version(migrated) == database.SCHEMA_VERSION
    row = migrated.execute(
        "SELECT d.label, d.key_state, p.name FROM devices d JOIN people p ON p.id = d.person_id"
    ).fetchone()
    assert tuple(row) == ("tel", "ok", "Ina")
    assert [r[0] for r in migrated.execute("SELECT id FROM enrol_tokens")] == ["clear-spent"]


def test_a_key_held_twice_stays_with_the_first_device_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "twice.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = database.Store(conn)
    database.migrate(db, target=3)  # before one key was one device
    db.execute("INSERT INTO people (id, name, role, created_at) VALUES ('p1', 'Ina', 'admin', 0)")
    for device_id, created in (("first", 1), ("later", 2), ("last", 3), ("own", 4)):
        key = "x'05'" if device_id == "own" else "x'04'"
        db.execute(
            "INSERT INTO devices (id, person_id, label, public_key, credential_hash, "  # noqa: S608
            f"push, created_at) VALUES (?, 'p1', 'tel', {key}, ?, 'sub', ?)",
            [device_id, device_id.encode(), created],
        )
    conn.close()
    migrated = database.connect(str(path))
    rows = {r["id"]: r for r in migrated.execute("SELECT * FROM devices").fetchall()}
    assert rows["first"]["revoked_at"] is None and rows["first"]["public_key"] == b"\x04"
    assert rows["own"]["revoked_at"] is None and rows["own"]["public_key"] == b"\x05"
    for device_id in ("later", "last"):
        assert rows[device_id]["revoked_at"] is not None and rows[device_id]["push"] is None
        assert rows[device_id]["public_key"] != b"\x04"
    with pytest.raises(sqlite3.IntegrityError):
        migrated.execute("UPDATE devices SET public_key = x'04' WHERE id = 'own'")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    db = database.connect(str(path))
    database.meta_set(db, "schema_version", str(database.SCHEMA_VERSION + 1))
    db.close()
    try:
        database.connect(str(path))
    except database.SchemaTooNew as error:
        assert "newer than this program" in str(error)
    else:
        raise AssertionError("a newer schema must be refused")


def test_readyz_and_metrics(tmp_path: Path) -> None:
    with live_world(tmp_path / "m.db", metrics_token="operator-secret") as w:
        _full_flows(w)
        ready = httpx.get(f"{w.url}/readyz")
        assert ready.status_code == 503  # workers are off in this app
        assert ready.json()["checks"]["database"] is True
        assert ready.json()["causes"] == dict.fromkeys(
            ("push_worker", "timers"), "not running (workers are off)"
        )
        assert httpx.get(f"{w.url}/metrics").status_code == 401
        scrape = httpx.get(f"{w.url}/metrics", headers={"Authorization": "Bearer operator-secret"})
        assert scrape.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(scrape.text)}
        states = {s.labels["state"]: s.value for s in families["hwc_signals"].samples}
        assert states == {"sent": 2.0, "forwarded": 1.0}
        assert "hwc_request_seconds" in families
        routes = {s.labels.get("route") for s in families["hwc_request_seconds"].samples}
        assert "/api/signals" in routes
        assert NAME not in scrape.text and "/push/" not in scrape.text


def test_readyz_goes_unready_when_the_push_worker_stops(tmp_path: Path) -> None:
    with live_world(tmp_path / "r.db", run_workers=True) as w:
        ready = httpx.get(f"{w.url}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] | {"outbox_oldest_due_seconds": 0} == {
            "database": True,
            "push_worker": True,
            "timers": True,
            "outbox": True,
            "outbox_oldest_due_seconds": 0,
        }
        task = w.app.state.push_worker._task
        task.get_loop().call_soon_threadsafe(task.cancel)
        for _ in range(100):
            if task.done():
                break
            time.sleep(0.01)
        unready = httpx.get(f"{w.url}/readyz")
        assert unready.status_code == 503
        assert unready.json()["checks"]["push_worker"] is False
        assert unready.json()["causes"] == {"push_worker": "stopped"}
