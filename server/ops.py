"""Operations: backups that hold no signal data, restore, readiness and metrics.

A backup copies only the directory (schools, organisations, people, devices and their public
keys, enrolment state, settings, VAPID and signing keys) into a fresh database file: signal
rows are never written to it, so no page of the backup ever held an envelope or a signal id.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from server import db as database
from server import push
from server.db import Store

DIRECTORY_TABLES = (
    "meta",
    "regions",
    "orgs",
    "free_days",
    "people",
    "devices",
    "enrol_tokens",
    "api_keys",
    "keylog",
    "admin_log",
    "machine_keys",
)
SIGNAL_TABLES = ("signals", "signal_events", "signal_teachers", "envelopes", "outbox")
EVENT_TABLES = ("security_events",)  # short-lived reports, never in a backup


# What /metrics counts: (label, count) rows, no names, no ids.
COUNTS = {
    "signals": "SELECT state, count(*) FROM signals GROUP BY state",
    "pushes": "SELECT state, count(*) FROM outbox GROUP BY state",
    "escalated": "SELECT 'escalated', count(*) FROM signals WHERE escalated_at IS NOT NULL",
    "devices": "SELECT CASE WHEN revoked_at IS NULL THEN 'active' ELSE 'revoked' END, count(*) "
    "FROM devices GROUP BY 1",
    "devices_push": "SELECT push_state, count(*) FROM devices WHERE revoked_at IS NULL "
    "GROUP BY push_state",
}


def count(db: Store, what: str) -> list[tuple[str, int]]:
    return [(str(row[0]), int(row[1])) for row in db.execute(COUNTS[what]).fetchall()]


def backup(db: Store, target: Path) -> dict[str, int]:
    """Write the directory of `db` to `target` (replaced atomically). Returns rows per table."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    copy = database.connect(str(partial))  # a fresh file at this program's schema version
    copy.execute("DELETE FROM meta")
    counts = {}
    copy.execute("ATTACH DATABASE ? AS live", [_path_of(db)])
    try:
        with copy.transaction():  # one read snapshot of the live file
            for table in DIRECTORY_TABLES:
                columns = ", ".join(copy.columns(table))
                counts[table] = copy.execute(
                    f"INSERT INTO main.{table} ({columns}) "  # noqa: S608 - fixed names
                    f"SELECT {columns} FROM live.{table}"
                ).rowcount
    finally:
        copy.execute("DETACH DATABASE live")
    database.checkpoint(copy)
    copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    copy.close()
    os.replace(partial, target)
    return counts


def _path_of(db: Store) -> str:
    return str(db.execute("PRAGMA database_list").fetchone()[2])


class RestoreRefused(RuntimeError):
    pass


def restore(source: Path, target: Path, force: bool = False) -> None:
    """Put a backup in place of the database at `target`; refuse to overwrite live data."""
    check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        check.close()
    if not set(DIRECTORY_TABLES) <= tables:
        raise RestoreRefused(f"{source} is not a backup of this program")
    if target.exists() and not force:
        raise RestoreRefused(f"{target} exists; stop the server and use --force to replace it")
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    database.connect(str(target)).close()  # migrates an older backup at once


# --- readiness -----------------------------------------------------------------------------

STUCK_AFTER = 300.0  # an outbox row due this long ago means delivery is stuck
FAULT_WINDOW = 15.0  # a write that failed for a storage fault this recently keeps it unready


async def readiness(app_state: Any) -> dict[str, Any]:
    """Each part's health, and in words why a part is unhealthy (never personal data)."""
    causes: dict[str, str] = {}
    fault = await _database_fault(app_state.db, app_state.clock.now())
    if fault:
        causes["database"] = fault
    for name in ("push_worker", "timers"):
        fault = _task_fault(getattr(app_state, name, None))
        if fault:
            causes[name] = fault
    try:
        age = push.oldest_due_age(app_state.db, app_state.clock.now())
    except sqlite3.Error as error:
        age, causes["outbox"] = 0.0, database.describe(error)
    if age / app_state.clock.speed >= STUCK_AFTER:  # real seconds, also under `--speed`
        causes["outbox"] = f"a due push has waited {age:.0f} s"
    checks: dict[str, Any] = {
        part: part not in causes for part in ("database", "push_worker", "timers", "outbox")
    }
    checks["outbox_oldest_due_seconds"] = round(age, 1)
    return {"status": "unready" if causes else "ready", "checks": checks, "causes": causes}


async def _database_fault(db: Store, now: float) -> str | None:
    """A real write through the store's own path, which shares the loop turn's commit (a
    BEGIN IMMEDIATE of its own would collide with it), and any write that failed lately."""
    try:
        # A task of its own (its own context): this response does not wait again on the
        # probe's commit, whose failure is the answer here, not an error of the response.
        await asyncio.create_task(_probe_write(db, now))
    except sqlite3.Error as error:
        return database.storage_fault(error) or database.describe(error)
    return db.recent_fault(FAULT_WINDOW)


async def _probe_write(db: Store, now: float) -> None:
    with db.transaction():
        database.meta_set(db, "ready_probe_at", repr(now))
    await db.durable()


def _task_fault(worker: Any) -> str | None:
    if worker is None:
        return "not running (workers are off)"
    if not worker.alive:
        return "stopped"
    return worker.health.fault()  # type: ignore[no-any-return]
