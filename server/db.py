"""The SQLite store: connection settings, the whole schema and migrations, transactions, erasure.

`Store` owns the connection and its single write path (see its docstring).
The schema is read top to bottom in MIGRATIONS; a database keeps its version in `meta`.
Times are epoch seconds (REAL). No column ever holds a child's name or birth date:
signal content exists only as envelopes (ciphertext to device keys).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

import sqlite_utils

log = logging.getLogger("hwc.db")

MIGRATIONS: tuple[str, ...] = (
    # 1: directory, devices, signals, envelopes, push outbox.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

    CREATE TABLE orgs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('school', 'veilig_thuis', 'leerplicht')),
        name TEXT NOT NULL,
        place TEXT NOT NULL DEFAULT '',
        code TEXT UNIQUE,
        region TEXT CHECK (region IN ('noord', 'midden', 'zuid')),
        municipalities TEXT NOT NULL DEFAULT '',
        route TEXT NOT NULL DEFAULT 'school' CHECK (route IN ('school', 'leerplicht')),
        created_at REAL NOT NULL
    ) STRICT;

    CREATE TABLE free_days (
        org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        PRIMARY KEY (org_id, day)
    ) STRICT;

    CREATE TABLE people (
        id TEXT PRIMARY KEY,
        org_id TEXT REFERENCES orgs(id),
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'sender', 'contact', 'teacher', 'officer')),
        class_label TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        revoked_at REAL
    ) STRICT;
    CREATE INDEX people_org ON people(org_id, role);

    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL REFERENCES people(id),
        label TEXT NOT NULL,
        public_key BLOB NOT NULL,
        credential_hash BLOB NOT NULL UNIQUE,
        push TEXT,
        push_state TEXT NOT NULL DEFAULT 'none' CHECK (push_state IN ('none', 'active', 'gone')),
        created_at REAL NOT NULL,
        last_seen_at REAL,
        revoked_at REAL
    ) STRICT;
    CREATE INDEX devices_person ON devices(person_id);

    CREATE TABLE enrol_tokens (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL REFERENCES people(id),
        created_by TEXT,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        spent_at REAL,
        device_id TEXT
    ) STRICT;

    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES orgs(id),
        key_hash BLOB NOT NULL UNIQUE,
        label TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        revoked_at REAL
    ) STRICT;

    CREATE TABLE signals (
        id TEXT PRIMARY KEY,
        ref TEXT NOT NULL UNIQUE,
        sender_org_id TEXT NOT NULL REFERENCES orgs(id),
        holder_org_id TEXT NOT NULL REFERENCES orgs(id),
        school_id TEXT REFERENCES orgs(id),
        state TEXT NOT NULL,
        sent_at REAL NOT NULL,
        deadline_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        reminded_at REAL,
        escalated_at REAL,
        teacher_late_at REAL,
        ended_at REAL,
        close_reason TEXT,
        acted_by TEXT
    ) STRICT;
    CREATE INDEX signals_sender ON signals(sender_org_id, sent_at);
    CREATE INDEX signals_holder ON signals(holder_org_id, state);
    CREATE INDEX signals_open ON signals(state, expires_at);

    CREATE TABLE signal_events (
        signal_id TEXT NOT NULL REFERENCES signals(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        count INTEGER,
        detail TEXT
    ) STRICT;
    CREATE INDEX signal_events_signal ON signal_events(signal_id);

    CREATE TABLE signal_teachers (
        signal_id TEXT NOT NULL REFERENCES signals(id) ON DELETE CASCADE,
        person_id TEXT NOT NULL REFERENCES people(id),
        viewed_at REAL,
        PRIMARY KEY (signal_id, person_id)
    ) STRICT;

    CREATE TABLE envelopes (
        signal_id TEXT NOT NULL REFERENCES signals(id) ON DELETE CASCADE,
        device_id TEXT NOT NULL REFERENCES devices(id),
        role TEXT NOT NULL,
        envelope TEXT NOT NULL,
        opened_at REAL,
        PRIMARY KEY (signal_id, device_id)
    ) STRICT;
    CREATE INDEX envelopes_device ON envelopes(device_id);

    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices(id),
        signal_id TEXT,
        kind TEXT NOT NULL,
        expires_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'sent', 'failed', 'gone')),
        attempts INTEGER NOT NULL DEFAULT 0,
        due_at REAL NOT NULL,
        created_at REAL NOT NULL,
        last_status INTEGER
    ) STRICT;
    CREATE INDEX outbox_due ON outbox(state, due_at);
    """,
    # 2: the app reports a wiped key store, so the admin sees why a device went quiet.
    """
    ALTER TABLE devices ADD COLUMN key_state TEXT NOT NULL DEFAULT 'ok'
        CHECK (key_state IN ('ok', 'lost'));
    """,
    # 3: partial indexes for every timer query, so a timers pass stays cheap at 10^5 signals.
    """
    CREATE INDEX signals_ended ON signals(ended_at) WHERE ended_at IS NOT NULL;
    CREATE INDEX signals_unreminded ON signals(state, sent_at) WHERE reminded_at IS NULL;
    CREATE INDEX signals_unescalated ON signals(state, deadline_at) WHERE escalated_at IS NULL;
    CREATE INDEX signals_teacher_unlate ON signals(state, deadline_at)
        WHERE teacher_late_at IS NULL;
    CREATE INDEX envelopes_viewed ON envelopes(opened_at) WHERE role = 'teacher';
    CREATE INDEX outbox_signal ON outbox(signal_id);
    CREATE INDEX outbox_done ON outbox(created_at) WHERE state != 'pending';
    """,
    # 4: since when a device's pushes fail (cleared when one gets through), for the admin.
    """
    ALTER TABLE devices ADD COLUMN push_failing_since REAL;
    """,
    # 5: one public key belongs to one device. A key an older database holds twice stays with
    # the device that had it first; every later one is revoked (its envelopes and pushes go)
    # and its key replaced by a marker that is unique and no point, so the index can hold.
    """
    DELETE FROM envelopes WHERE device_id IN (SELECT d.id FROM devices d WHERE EXISTS (
        SELECT 1 FROM devices e WHERE e.public_key = d.public_key
        AND (e.created_at, e.id) < (d.created_at, d.id)));
    DELETE FROM outbox WHERE state = 'pending' AND device_id IN (SELECT d.id FROM devices d
        WHERE EXISTS (SELECT 1 FROM devices e WHERE e.public_key = d.public_key
        AND (e.created_at, e.id) < (d.created_at, d.id)));
    UPDATE devices SET revoked_at = coalesce(revoked_at, unixepoch()), push = NULL,
        public_key = CAST('duplicate:' || id AS BLOB)
        WHERE EXISTS (SELECT 1 FROM devices e WHERE e.public_key = devices.public_key
        AND (e.created_at, e.id) < (devices.created_at, devices.id));
    CREATE UNIQUE INDEX devices_public_key ON devices(public_key);
    """,
    # 6: enrolment tokens are kept as hashes of their ids (a backup holds the signing key), so
    # unspent links of before, kept in clear, are void; API keys show when they were last used.
    """
    DELETE FROM enrol_tokens WHERE spent_at IS NULL;
    ALTER TABLE api_keys ADD COLUMN last_used_at REAL;
    """,
    # 7: indexes for the directory's retention rules and erasure (server/privacy.py).
    """
    CREATE INDEX people_revoked ON people(revoked_at) WHERE revoked_at IS NOT NULL;
    CREATE INDEX devices_revoked ON devices(revoked_at) WHERE revoked_at IS NOT NULL;
    CREATE INDEX devices_push_gone ON devices(id) WHERE push_state = 'gone' AND push IS NOT NULL;
    CREATE INDEX api_keys_revoked ON api_keys(revoked_at) WHERE revoked_at IS NOT NULL;
    CREATE INDEX enrol_tokens_done ON enrol_tokens(coalesce(spent_at, expires_at));
    CREATE INDEX signals_acted_by ON signals(acted_by) WHERE acted_by IS NOT NULL;
    """,
    # 8: a phone number per organisation, shown wherever someone is told to phone it; the
    # device on which a teacher opened a signal, so their other devices can say where; a
    # device's own quiet hours (NULL: the setting; 'off': always at once) and when a signal's
    # reminder is due (counted in school-day time outside quiet hours; NULL in older rows).
    """
    ALTER TABLE orgs ADD COLUMN phone TEXT NOT NULL DEFAULT '';
    ALTER TABLE signal_teachers ADD COLUMN viewed_device_id TEXT;
    ALTER TABLE devices ADD COLUMN quiet_hours TEXT;
    ALTER TABLE signals ADD COLUMN remind_at REAL;
    """,
    # 9: the key log (docs/keylog.md): every change to an organisation's people and devices,
    # append-only and hash-linked, each entry stored exactly as hashed; a device's signing key
    # (NULL: enrolled before signing keys); a device waiting for its person's approval; problems
    # that clients detected, without personal data. The genesis prefix for existing data is
    # written by server/orglog.py at the next start.
    """
    CREATE TABLE keylog (
        org_id TEXT NOT NULL REFERENCES orgs(id),
        seq INTEGER NOT NULL,
        entry TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (org_id, seq)
    ) STRICT;
    ALTER TABLE devices ADD COLUMN sig_key BLOB;
    ALTER TABLE devices ADD COLUMN pending INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1));
    CREATE UNIQUE INDEX devices_sig_key ON devices(sig_key) WHERE sig_key IS NOT NULL;
    CREATE TABLE security_events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        org_id TEXT,
        reporter_org_id TEXT
    ) STRICT;
    CREATE INDEX security_events_at ON security_events(at);
    """,
    # 10: the national register of school locations (server/register.py): a school's street and
    # municipality from DUO's file, when a newer file no longer listed it (closed: senders no
    # longer find it, its history stays), when a file last listed it (NULL: typed in or
    # imported from this project's own CSV) and the admin's holiday region where the school
    # follows another region's dates than its municipality's.
    """
    ALTER TABLE orgs ADD COLUMN street TEXT NOT NULL DEFAULT '';
    ALTER TABLE orgs ADD COLUMN municipality TEXT NOT NULL DEFAULT '';
    ALTER TABLE orgs ADD COLUMN closed_at REAL;
    ALTER TABLE orgs ADD COLUMN register_seen_at REAL;
    ALTER TABLE orgs ADD COLUMN region_override TEXT
        CHECK (region_override IN ('noord', 'midden', 'zuid'));
    """,
    # 11: regions ("regio": a Veilig Thuis region or a partnership of municipalities; not the
    # holiday region `orgs.region`) group organisations under a region admin (server/scope.py).
    # An admin's scope is their columns: org_id (organisation admin), region_id (region
    # admin), neither (instance admin); never both.
    """
    CREATE TABLE regions (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        municipalities TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    ) STRICT;
    ALTER TABLE orgs ADD COLUMN region_id TEXT REFERENCES regions(id);
    CREATE INDEX orgs_region ON orgs(region_id);
    ALTER TABLE people ADD COLUMN region_id TEXT REFERENCES regions(id)
        CHECK (region_id IS NULL OR (org_id IS NULL AND role = 'admin'));
    """,
    # 12: the admin audit trail (server/adminlog.py, "Beheerlog"): who made a link, enrolled,
    # approved, declined, revoked, reset, created or erased which person or device, or made or
    # revoked which API key, and when.
    # Ids, roles and kinds only (names come from `people` while the person exists); no signal
    # and nothing about a child. Purged after HWC_AUDIT_RETENTION_DAYS.
    """
    CREATE TABLE admin_log (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        org_id TEXT,
        act TEXT NOT NULL,
        actor_kind TEXT NOT NULL CHECK (actor_kind IN ('person', 'api_key', 'server')),
        actor_id TEXT,
        actor_role TEXT,
        person_id TEXT,
        person_role TEXT,
        device_id TEXT,
        api_key_id TEXT
    ) STRICT;
    CREATE INDEX admin_log_org ON admin_log(org_id, at);
    CREATE INDEX admin_log_person ON admin_log(person_id) WHERE person_id IS NOT NULL;
    CREATE INDEX admin_log_actor ON admin_log(actor_id) WHERE actor_id IS NOT NULL;
    CREATE INDEX admin_log_device ON admin_log(device_id) WHERE device_id IS NOT NULL;
    CREATE INDEX admin_log_at ON admin_log(at);
    """,
    # 13: sending systems' signing keys (`hwc send`, issue 20; docs/keylog.md): registered with
    # an organisation's API key, pending until a device of a sender or an admin of that
    # organisation approves it in the app (then `machine_added` in its key log); a declined or
    # revoked one is removed after HWC_REVOKED_RETENTION_DAYS.
    """
    CREATE TABLE machine_keys (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES orgs(id),
        api_key_id TEXT NOT NULL,
        sig_key BLOB NOT NULL UNIQUE,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'approved', 'declined', 'revoked')),
        created_at REAL NOT NULL,
        revoked_at REAL
    ) STRICT;
    CREATE INDEX machine_keys_org ON machine_keys(org_id, state);
    CREATE INDEX machine_keys_revoked ON machine_keys(revoked_at) WHERE revoked_at IS NOT NULL;
    """,
    # 14: when the server stored each envelope (NULL: before this), so a device that rotated
    # its key learns when no live envelope sealed to an old key remains (server/rotation.py).
    """
    ALTER TABLE envelopes ADD COLUMN sealed_at REAL;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    pass


class DatabaseDamaged(RuntimeError):
    pass


# What an operator searches for, per SQLite result code (extended codes share the prefix).
# Never the error's own text: a constraint message can quote a column or a value.
STORAGE_FAULTS = {
    "SQLITE_FULL": "disk full (schijf vol)",
    "SQLITE_READONLY": "database read-only (alleen-lezen)",
    "SQLITE_IOERR": "I/O error: disk full, file too large or failing disk "
    "(schrijffout: schijf vol, bestand te groot of schijf defect)",
    "SQLITE_CORRUPT": "database damaged (beschadigd)",
    "SQLITE_NOTADB": "database damaged (beschadigd)",
    "SQLITE_CANTOPEN": "database file cannot be opened",
}
RESTORE_STEPS = (
    "Stop the server. Move the damaged file aside with its -wal and -shm files (keep them for "
    "analysis). Restore the last backup: `hwc restore BACKUP --database PATH`. Start the "
    "server. Signals that were pending are not in a backup: their senders see them as lost "
    "and phone the school."
)


def storage_fault(error: BaseException) -> str | None:
    """Operator words when `error` means the file cannot be written or read, else None."""
    name = getattr(error, "sqlite_errorname", None) or ""
    for prefix, words in STORAGE_FAULTS.items():
        if name == prefix or name.startswith(prefix + "_"):
            return f"{words} [{name}]"
    return None


def is_damage(error: BaseException) -> bool:
    return str(getattr(error, "sqlite_errorname", "")).startswith(
        ("SQLITE_CORRUPT", "SQLITE_NOTADB")
    )


def describe(error: BaseException) -> str:
    """An exception for a log line: its type, and for a storage fault the operator's words."""
    fault = storage_fault(error)
    return f"{type(error).__name__}: {fault}" if fault else type(error).__name__


def check_intact(db: Store, path: str) -> None:
    """Refuse a damaged file at start, before anything reads the damaged page."""
    try:
        found = [str(r[0]) for r in db.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.DatabaseError as error:
        found = [describe(error)]
    if found != ["ok"]:
        raise DatabaseDamaged(
            f"database {path} is damaged (PRAGMA quick_check: {'; '.join(found)}). {RESTORE_STEPS}"
        )


def connect(path: str) -> Store:
    """Open the database with the pragmas every connection needs, migrated to SCHEMA_VERSION."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    # secure_delete zeroes deleted content; synchronous=FULL makes an acknowledged signal durable.
    for pragma in (
        "journal_mode=WAL",
        "secure_delete=ON",
        "foreign_keys=ON",
        "busy_timeout=5000",
        "synchronous=FULL",
    ):
        conn.execute(f"PRAGMA {pragma}")
    db = Store(conn)
    migrate(db)
    return db


def schema_version(db: Store) -> int:
    if "meta" not in db.table_names():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(db: Store, target: int = SCHEMA_VERSION) -> int:
    """Bring the database to `target`; refuse a database made by a newer program."""
    current = schema_version(db)
    if current > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database schema version {current} is newer than this program ({SCHEMA_VERSION}); "
            "upgrade the program before opening this database"
        )
    for version in range(current + 1, target + 1):
        with db.transaction():
            for statement in _statements(MIGRATIONS[version - 1]):
                db.execute(statement)
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [str(version)],
            )
    return max(current, target)


def _statements(script: str) -> Iterator[str]:
    # executescript() would COMMIT our transaction; split on complete statements instead.
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""


class Store:
    """The one owner of the SQLite connection and its single write path.

    Every write runs in `transaction()`. The store also owns what hangs on that path: the
    group commit of the serving loop, whether the open transaction erased signal content (then
    the WAL is truncated after its commit), and the push worker's wake-up (called when a
    transaction queued a push). Reads go through `execute`.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.utils = sqlite_utils.Database(conn)
        self.conn = conn
        self.group: GroupCommit | None = None
        self._erased = False
        self._wake_push: Callable[[], None] | None = None

    def execute(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> sqlite3.Cursor:
        return self.utils.execute(sql, params)

    def table_names(self) -> list[str]:
        return list(self.utils.table_names())

    def columns(self, table: str) -> list[str]:
        return [column.name for column in self.utils[table].columns]

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One BEGIN IMMEDIATE transaction: a writer never upgrades from reader and deadlocks.

        On the serving event loop (see GroupCommit) it is a savepoint of the loop turn's shared
        transaction instead, and inside another transaction a savepoint of that one. When it
        erased signal content (see `erase`), the WAL is truncated right after the commit.
        """
        group = self.group
        if group is not None and group.is_current():
            with group.savepoint():
                yield self
        elif self.conn.in_transaction:
            with self.savepoint():
                yield self
        else:
            with self._own_transaction():
                yield self

    @contextmanager
    def _own_transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    @contextmanager
    def savepoint(self, on_error: Callable[[BaseException], None] | None = None) -> Iterator[None]:
        """A savepoint inside the open transaction: a failing part rolls back alone."""
        self.conn.execute("SAVEPOINT tx")
        try:
            yield
        except BaseException as error:
            if on_error is not None:
                on_error(error)
            self.conn.execute("ROLLBACK TO tx")
            self.conn.execute("RELEASE tx")
            raise
        self.conn.execute("RELEASE tx")

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        if self._erased:
            self._erased = False
            checkpoint(self)

    def rollback(self) -> None:
        with suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")
        self._erased = False

    def erase(self, sql: str, params: Sequence[Any]) -> int:
        """Delete signal content. secure_delete zeroes the pages; the WAL would still hold their
        earlier images, so the enclosing transaction truncates it when it commits."""
        count = int(self.execute(sql, params).rowcount)
        if count:
            self._erased = True
        return count

    def start_group_commit(self) -> None:
        """From now on, transactions on the running loop share one COMMIT per loop turn."""
        self.group = GroupCommit(self, asyncio.get_running_loop())

    def stop_group_commit(self) -> None:
        group, self.group = self.group, None
        if group is not None:
            group.commit()

    async def durable(self) -> None:
        """Wait until this task's transactions, and every other one that it may have read, are
        on disk; raises the commit's error if that failed."""
        if self.group is None:
            return
        for commit in (_joined.get(), self.group.pending):
            if commit is not None:
                await asyncio.shield(commit)

    def recent_fault(self, within: float) -> str | None:
        """A write that failed lately because of the file or disk (for readiness)."""
        return self.group.recent_fault(within) if self.group is not None else None

    def on_push_queued(self, wake: Callable[[], None] | None) -> None:
        """Have `push_queued` call `wake` (the serving app's push worker)."""
        self._wake_push = wake

    def push_queued(self) -> None:
        """A transaction queued pushes: wake the worker (its sends wait for the commit)."""
        if self._wake_push is not None:
            self._wake_push()


class GroupCommit:
    """Group commit: the transactions of one event-loop turn share one COMMIT, so one fsync.

    `synchronous=FULL` makes each COMMIT wait for the disk; one per request would bound intake
    by the disk's flush time on the single event-loop thread. Instead the first transaction of a
    turn opens BEGIN IMMEDIATE and schedules the COMMIT after everything already ready on the
    loop; each transaction runs in its own SAVEPOINT, so a failing one rolls back alone. Nothing
    leaves before the COMMIT: responses wait for it (`Store.durable`, in web.ResponseGuard) and
    so do pushes, so a request is acknowledged, and uncommitted state is shown, only once it is
    on disk. If the COMMIT fails, every response waiting on it becomes an error.
    """

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.loop = loop
        self.pending: asyncio.Future[None] | None = None
        self.fault: tuple[float, str] | None = None  # (monotonic time, cause) of the last one

    def note_fault(self, error: BaseException) -> None:
        """Remember a write that failed because of the file or disk, for readiness."""
        fault = storage_fault(error)
        if fault is not None:
            self.fault = (time.monotonic(), fault)

    def recent_fault(self, within: float) -> str | None:
        if self.fault is None or time.monotonic() - self.fault[0] > within:
            return None
        return self.fault[1]

    def is_current(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:  # a thread without a loop (the CLI, a test's own calls)
            return False

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        if self.pending is None:
            self.store.conn.execute("BEGIN IMMEDIATE")
            self.pending = self.loop.create_future()
            self.loop.call_soon(self.commit)
        _joined.set(self.pending)
        with self.store.savepoint(on_error=self.note_fault):
            yield

    def commit(self) -> None:
        done, self.pending = self.pending, None
        if done is None:
            return
        try:
            self.store.commit()
        except sqlite3.Error as error:
            log.error("database commit failed: %s", describe(error))
            self.note_fault(error)
            self.store.rollback()
            done.set_exception(error)
            done.exception()  # retrieved here: every waiter gets it, none may be left
            return
        done.set_result(None)


# The commit that this task's (request's) own last transaction joined: it may have run, and
# failed, before the task asks whether its work is durable.
_joined: ContextVar[asyncio.Future[None] | None] = ContextVar("hwc_joined_commit", default=None)


def checkpoint(db: Store) -> None:
    """Fold the WAL into the main file and truncate it, so no old page images remain."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def meta_get(db: Store, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def meta_set(db: Store, key: str, value: str) -> None:
    with db.transaction():
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
