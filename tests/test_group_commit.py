"""Group commit: the transactions of one event-loop turn share one COMMIT, and nothing that
depends on them leaves before it is on disk.

A second connection to the same file plays the part of "after a power cut": it sees only what
was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server import db as database
from server.web import ErrorGuard, ResponseGuard
from tests.conftest import live_world
from tests.support import World, free_socket, serving


def _keys(db: Any) -> set[str]:
    return {row[0] for row in db.execute("SELECT key FROM meta WHERE key LIKE 'k%'")}


def _write(db: Any, key: str) -> None:
    with db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES (?, 'x')", [key])


def test_one_loop_turn_is_one_commit_and_on_disk_before_durable_returns(tmp_path: Path) -> None:
    db = database.connect(str(tmp_path / "g.db"))
    other = database.connect(str(tmp_path / "g.db"))

    async def main() -> None:
        db.start_group_commit()
        pending = []
        for key in ("k1", "k2", "k3"):
            _write(db, key)
            pending.append(db.group.pending)
        assert pending[0] is not None and pending.count(pending[0]) == 3  # one shared commit
        assert _keys(other) == set()  # not on disk yet
        await db.durable()
        assert _keys(other) == {"k1", "k2", "k3"}
        assert db.group.pending is None
        _write(db, "k4")  # a later turn opens a new group
        assert db.group.pending not in (None, pending[0])
        db.stop_group_commit()  # commits what is open
        assert _keys(other) == {"k1", "k2", "k3", "k4"}

    asyncio.run(main())


def test_a_failing_transaction_rolls_back_alone(tmp_path: Path) -> None:
    db = database.connect(str(tmp_path / "g.db"))

    async def main() -> None:
        db.start_group_commit()
        _write(db, "k1")
        with pytest.raises(sqlite3.IntegrityError):
            _write(db, "k1")  # duplicate key: this transaction fails
        with pytest.raises(RuntimeError), db.transaction():
            db.execute("INSERT INTO meta (key, value) VALUES ('k2', 'x')")
            raise RuntimeError("route refused")
        _write(db, "k3")
        await db.durable()
        db.stop_group_commit()

    asyncio.run(main())
    assert _keys(db) == {"k1", "k3"}


def _violate_deferred_foreign_key(db: Any) -> None:
    """A write that passes every statement and fails only at COMMIT."""
    with db.transaction():
        db.execute("PRAGMA defer_foreign_keys = ON")
        db.execute(
            "INSERT INTO devices (id, person_id, label, public_key, credential_hash, "
            "created_at) VALUES ('d1', 'nobody', 'x', x'00', x'01', 0)"
        )


def test_a_failed_commit_fails_every_waiter_and_keeps_nothing(tmp_path: Path) -> None:
    db = database.connect(str(tmp_path / "g.db"))

    async def main() -> None:
        db.start_group_commit()
        _write(db, "k1")
        _violate_deferred_foreign_key(db)
        waiters = [asyncio.ensure_future(db.durable()) for _ in range(3)]
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(r, sqlite3.IntegrityError) for r in results)
        _write(db, "k2")  # the connection is usable again
        await db.durable()
        db.stop_group_commit()

    asyncio.run(main())
    assert _keys(db) == {"k2"}
    assert db.execute("SELECT COUNT(*) FROM devices").fetchone()[0] == 0


def test_a_response_waiting_on_a_failed_commit_becomes_a_500(tmp_path: Path) -> None:
    """The real middleware on a real server: the route's work fails only at COMMIT."""
    db = database.connect(str(tmp_path / "g.db"))

    async def bad(request: Request) -> JSONResponse:
        _violate_deferred_foreign_key(request.app.state.db)
        return JSONResponse({"ok": True}, 201)

    async def good(request: Request) -> JSONResponse:
        _write(request.app.state.db, "k1")
        return JSONResponse({"ok": True}, 201)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db.start_group_commit()
        yield
        db.stop_group_commit()

    app = Starlette(
        routes=[Route("/bad", bad, methods=["POST"]), Route("/good", good, methods=["POST"])],
        middleware=[Middleware(ErrorGuard, templates=dict), Middleware(ResponseGuard)],
        lifespan=lifespan,
    )
    app.state.db = db
    with serving(app, free_socket()) as url:
        failed = httpx.post(f"{url}/bad")
        assert failed.status_code == 500 and failed.json()["error"] == "server_error"
        assert httpx.post(f"{url}/good").status_code == 201
    other = database.connect(str(tmp_path / "g.db"))
    assert _keys(other) == {"k1"}
    assert other.execute("SELECT COUNT(*) FROM devices").fetchone()[0] == 0


def test_every_acknowledged_signal_is_on_disk_when_its_201_arrives(db_path: Path) -> None:
    """50 senders at once: at the moment a 201 reaches its client, another connection already
    sees the signal (a response sent before its commit would lose it to a power cut)."""
    with live_world(db_path) as world:
        school = world.org()
        world.member("contact", school)
        senders = [world.member("sender", world.org("veilig_thuis", f"VT {i}")) for i in range(10)]
        observer = database.connect(str(db_path))
        lock = threading.Lock()
        missing: list[str] = []

        def send(i: int) -> int:
            sender = senders[i % len(senders)]
            response = _send(world, sender, school)
            if response.status_code == 201:
                with lock:  # one connection, used by one thread at a time
                    row = observer.execute(
                        "SELECT 1 FROM signals WHERE id = ?", [response.json()["id"]]
                    ).fetchone()
                if row is None:
                    missing.append(response.json()["id"])
            return response.status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(send, range(100)))
        assert statuses == [201] * 100
        assert missing == []


def _send(world: World, sender: Any, school: str) -> httpx.Response:
    return world.send(sender, school, "Xylofoon Quaggazwemmer", "2013-07-19")
