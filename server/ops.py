"""Operations: backups that hold no signal data, restore, readiness and metrics.

A backup copies only the directory (schools, organisations, people, devices and their public
keys, enrolment state, settings, VAPID and signing keys) into a fresh database file: signal
rows are never written to it, so no page of the backup ever held an envelope or a signal id.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from server import db as database
from server import push

DIRECTORY_TABLES = ("meta", "orgs", "free_days", "people", "devices", "enrol_tokens",
                    "api_keys")
SIGNAL_TABLES = ("signals", "signal_events", "signal_teachers", "envelopes", "outbox")


def backup(db: sqlite_utils.Database, target: Path) -> dict[str, int]:
    """Write the directory of `db` to `target` (replaced atomically). Returns rows per table."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    copy = database.connect(str(partial))  # a fresh file at this program's schema version
    copy.execute("DELETE FROM meta")
    counts = {}
    copy.execute("ATTACH DATABASE ? AS live", [_path_of(db)])
    try:
        with database.transaction(copy):  # one read snapshot of the live file
            for table in DIRECTORY_TABLES:
                columns = ", ".join(c.name for c in copy[table].columns)
                counts[table] = copy.execute(
                    f"INSERT INTO main.{table} ({columns}) "  # noqa: S608 - fixed names
                    f"SELECT {columns} FROM live.{table}").rowcount
    finally:
        copy.execute("DETACH DATABASE live")
    database.checkpoint(copy)
    copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    copy.close()
    os.replace(partial, target)
    return counts


def _path_of(db: sqlite_utils.Database) -> str:
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


def readiness(app_state: Any) -> dict[str, Any]:
    db, now = app_state.db, app_state.clock.now()
    checks: dict[str, Any] = {"database": _writable(db)}
    for name in ("push_worker", "timers"):
        worker = getattr(app_state, name, None)
        checks[name] = worker is not None and worker.alive
    age = push.oldest_due_age(db, now)
    checks["outbox_oldest_due_seconds"] = round(age, 1)
    ready = all(v for k, v in checks.items() if isinstance(v, bool)) and age < STUCK_AFTER
    return {"status": "ready" if ready else "unready", "checks": checks}


def _writable(db: sqlite_utils.Database) -> bool:
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
        return True
    except sqlite3.Error:
        return False
