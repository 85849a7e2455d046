"""The ceiling app: the same stack (uvicorn + Starlette + SQLite via server.db.connect) running
the same SQL as `server.signals.send_signal` and the teacher's claim in
`server.signals._open_teacher_copy`, directly in the handler: no middleware, no auth, no
rate limit, no schema validation, no envelope checks, no calendar arithmetic (the deadline,
expiry and reminder time are plain offsets; their queries still run), no worker wake-ups.

Served by `uvicorn --factory bench.bare:create_app` with BENCH_BARE_DATABASE set. The SQL is
copied from server/signals.py and server/auth.py (keep them in step); the outbox rows and the
calendar row and the reference come from the server's own `push.enqueue`,
`signals.CALENDAR_ROW` and `signals.new_reference`.
"""

from __future__ import annotations

import os
import sqlite3
import time

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import db as database
from server import push
from server.db import Store
from server.signals import CALENDAR_ROW, new_reference

ENCODER = msgspec.json.Encoder()
VIEW_GRACE = 600.0
REMIND_AFTER = 30 * 60.0

RECIPIENTS = """SELECT d.id, d.public_key FROM devices d JOIN people p ON p.id = d.person_id
           JOIN orgs o ON o.id = p.org_id
           WHERE p.org_id = ? AND d.revoked_at IS NULL AND p.revoked_at IS NULL
             AND ((o.kind = 'school' AND p.role = 'contact')
               OR (o.kind = 'leerplicht' AND p.role = 'officer'))
           ORDER BY d.id"""


def _json(data: object, status: int = 200) -> Response:
    return Response(ENCODER.encode(data), status, media_type="application/json")


def create_app() -> Starlette:
    db = database.connect(os.environ["BENCH_BARE_DATABASE"])
    # The real route has the sender's organisation from its credential: no SQL per request.
    sender_org = db.execute("SELECT id FROM orgs WHERE kind = 'veilig_thuis' LIMIT 1").fetchone()[0]

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def intake(request: Request) -> Response:
        body = msgspec.json.decode(await request.body())
        return _json(bare_intake(db, sender_org, body, time.time()), 201)

    async def claim(request: Request) -> Response:
        result = bare_claim(
            db,
            request.path_params["id"],
            request.query_params["d"],
            request.query_params["p"],
            time.time(),
        )
        if result is None:
            return _json({"error": "removed"}, 404)
        return _json(result)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/bare/signals", intake, methods=["POST"]),
            Route("/bare/claim/{id}", claim, methods=["POST"]),
        ]
    )


def bare_intake(db: Store, sender_org: str, body: dict, now: float) -> dict:
    signal_id, school_id = body["id"], body["recipient_id"]
    # send_signal before its transaction: the org, the calendar's region and free days (which
    # also give the reminder time, signals.remind_time).
    db.execute("SELECT kind, name FROM orgs WHERE id = ?", [school_id]).fetchone()
    db.execute(CALENDAR_ROW, [school_id]).fetchone()
    with db.transaction():
        db.execute(RECIPIENTS, [school_id]).fetchall()
        ref = new_reference(db)
        try:
            db.execute(
                "INSERT INTO signals (id, ref, sender_org_id, holder_org_id, school_id, state, "
                "sent_at, deadline_at, expires_at, remind_at) "
                "VALUES (?, ?, ?, ?, ?, 'sent', ?, ?, ?, ?)",
                [
                    signal_id,
                    ref,
                    sender_org,
                    school_id,
                    school_id,
                    now,
                    now + 86400,
                    now + 2 * 86400,
                    now + REMIND_AFTER,
                ],
            )
        except sqlite3.IntegrityError:
            return {"error": "id_reused"}
        devices = [e["device_id"] for e in body["envelopes"]]
        db.conn.executemany(
            "INSERT INTO envelopes (signal_id, device_id, role, envelope) VALUES (?, ?, ?, ?)",
            [
                (signal_id, e["device_id"], "contact", ENCODER.encode(e["envelope"]).decode())
                for e in body["envelopes"]
            ],
        )
        db.execute(
            "INSERT INTO signal_events (signal_id, at, kind, count, detail) VALUES (?, ?, ?, ?, ?)",
            [signal_id, now, "sent", len(devices), None],
        )
        push.enqueue(
            db, devices, signal_id, "new_signal", now + 2 * 86400, now, deadline_at=now + 86400
        )  # no worker here; no quiet hours
    return {"id": signal_id, "ref": ref}


def bare_claim(
    db: Store, signal_id: str, device_id: str, person_id: str, now: float
) -> dict | None:
    with db.transaction():
        signal = db.execute("SELECT * FROM signals WHERE id = ?", [signal_id]).fetchone()
        if (
            signal is None
            or db.execute(
                "SELECT 1 FROM signal_teachers WHERE signal_id = ? AND person_id = ?",
                [signal_id, person_id],
            ).fetchone()
            is None
        ):
            return None
        row = db.execute(
            "UPDATE envelopes SET opened_at = coalesce(opened_at, ?) "
            "WHERE signal_id = ? AND device_id = ? AND (opened_at IS NULL OR opened_at > ?) "
            "RETURNING envelope, opened_at",
            [now, signal_id, device_id, now - VIEW_GRACE],
        ).fetchone()
        if row is None:
            return None
        erased = db.execute(
            "DELETE FROM envelopes WHERE signal_id = ? AND role = 'teacher' "
            "AND device_id != ? AND device_id IN "
            "(SELECT id FROM devices WHERE person_id = ?)",
            [signal_id, device_id, person_id],
        ).rowcount
        first_view = db.execute(
            "UPDATE signal_teachers SET viewed_at = ? WHERE signal_id = ? AND person_id = ? "
            "AND viewed_at IS NULL",
            [now, signal_id, person_id],
        ).rowcount
        if first_view:
            db.execute(
                "INSERT INTO signal_events (signal_id, at, kind, count, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                [signal_id, now, "teacher_viewed", None, None],
            )
            unseen = db.execute(
                "SELECT count(*) FROM signal_teachers WHERE signal_id = ? AND viewed_at IS NULL",
                [signal_id],
            ).fetchone()[0]
            if unseen == 0:
                db.execute(
                    "UPDATE signals SET state = 'viewed' WHERE id = ? AND state = 'forwarded'",
                    [signal_id],
                )
                db.execute(
                    "INSERT INTO signal_events (signal_id, at, kind, count, detail) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [signal_id, now, "viewed", None, None],
                )
    if erased:
        # server.db.transaction truncates the WAL after a commit that erased content.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    state = db.execute("SELECT state FROM signals WHERE id = ?", [signal_id]).fetchone()
    return {
        "envelope": msgspec.json.decode(row[0]),
        "state": state[0] if state else "gone",
        "delete_at": row[1] + VIEW_GRACE,
    }
