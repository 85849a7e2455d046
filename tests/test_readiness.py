"""Readiness that tells the truth, a damaged file refused at start, background tasks that
restart: each against real faults (a group commit in flight, an immutable file, a file size
limit, a damaged page, a missing table), on real files and real servers."""

from __future__ import annotations

import logging
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from server import db as database
from server.app import create_app
from server.cli import main as hwc
from tests.conftest import LogCapture, live_world, make_settings
from tests.support import World
from tests.test_crash_safety import ROOT, Server, enrol, free_port, seed

NAME, BORN = "Xylofoon Quaggazwemmer", "2015-06-01"


def _school_with_sender(w: World) -> tuple[str, list]:
    school = w.org()
    w.member("contact", school)
    w.member("contact", school)
    senders = [w.member("sender", w.org("veilig_thuis", f"VT {i}")) for i in range(10)]
    return school, senders


def test_readyz_never_flaps_under_concurrent_sends(db_path: Path) -> None:
    """The probe used to run BEGIN IMMEDIATE on the shared connection: 503 whenever a group
    commit was open in that loop turn, which under load is most of the time."""
    with live_world(db_path, run_workers=True) as w:
        school, senders = _school_with_sender(w)
        done = threading.Event()
        probes: list[tuple[int, dict]] = []

        def probe() -> None:
            with httpx.Client(base_url=w.url, timeout=10) as http:
                while not done.is_set():
                    response = http.get("/readyz")
                    probes.append((response.status_code, response.json()["causes"]))

        prober = threading.Thread(target=probe)
        prober.start()
        statuses: list[int] = []
        try:
            with ThreadPoolExecutor(max_workers=20) as pool:
                while len(probes) < 30 and len(statuses) < 1000:  # send limit: 120/min each
                    statuses += pool.map(
                        lambda i: w.send(senders[i % 10], school, NAME, BORN).status_code,
                        range(100),
                    )
        finally:
            done.set()
            prober.join()
        assert set(statuses) == {201}
        assert len(probes) >= 30, "too few probes during the sends to mean anything"
        assert [p for p in probes if p[0] != 200] == []


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """Root writes any file it may open; an immutable one (ext4 `chattr +i`) it cannot."""
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_database_is_unready_and_names_the_database(
    db_path: Path, log_capture: LogCapture
) -> None:
    with live_world(db_path) as w:  # a database with its keys, made while writable
        school, senders = _school_with_sender(w)
        recipients = senders[0].get(f"/api/schools/{school}/recipients").json()
    with immutable(db_path), live_world(db_path, run_workers=True) as w:
        ready = httpx.get(f"{w.url}/readyz")
        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert body["checks"] | {"outbox_oldest_due_seconds": 0} == {
            "database": False,
            "push_worker": True,
            "timers": True,
            "outbox": True,
            "outbox_oldest_due_seconds": 0,
        }
        assert "read-only" in body["causes"]["database"]
        assert list(body["causes"]) == ["database"]
        assert recipients["devices"]
    lines = "\n".join(log_capture.lines)
    assert "not ready: database: database read-only (alleen-lezen)" in lines
    assert NAME not in lines


def test_a_full_disk_is_unready_named_in_the_log_and_recovers(tmp_path: Path) -> None:
    """RLIMIT_FSIZE in the server process: every write past 512 KiB of a file fails with
    EFBIG, as on a full disk; raising the limit (prlimit) gives the space back."""
    db_path = tmp_path / "hwc.db"
    ids = seed(db_path)
    server = Server(db_path, free_port(), tmp_path / "server.log")
    limit = 512 * 1024
    server.preexec = lambda: resource.setrlimit(
        resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY)
    )
    server.start()
    try:
        contacts = [
            enrol(server.url, ids[f"contact{n}_token"], ids[f"contact{n}_person"], None)
            for n in range(2)
        ]
        sender = enrol(server.url, ids["sender_token"], ids["sender_person"], None)
        assert httpx.get(server.url + "/readyz").status_code == 200
        statuses = _send_until_refused(server.url, sender, ids["school"], contacts)
        assert statuses[-1] == 500 and statuses[:-1] == [201] * (len(statuses) - 1)
        ready = httpx.get(server.url + "/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] is False
        assert "disk full" in ready.json()["causes"]["database"]

        assert server.process is not None
        resource.prlimit(
            server.process.pid,
            resource.RLIMIT_FSIZE,
            (resource.RLIM_INFINITY, resource.RLIM_INFINITY),
        )
        deadline = time.monotonic() + 40
        while httpx.get(server.url + "/readyz").status_code != 200:
            assert time.monotonic() < deadline, httpx.get(server.url + "/readyz").text
            time.sleep(0.5)
        assert _send_until_refused(server.url, sender, ids["school"], contacts, 1) == [201]
    finally:
        server.stop()
    log = server.log.read_text()
    assert "database commit failed: OperationalError: I/O error: disk full" in log
    assert "schijf vol" in log and "not ready: database" in log
    assert NAME not in log and BORN not in log


@contextmanager
def small_disk(directory: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of its own (root may mount here): a disk that really fills up."""
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the "
            "RLIMIT_FSIZE test covers a full disk without mount rights"
        )
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:  # ENOSPC: the disk is full
            pass
    return filler


def test_a_really_full_disk_says_disk_full_and_recovers(
    tmp_path: Path, log_capture: LogCapture
) -> None:
    with small_disk(tmp_path / "disk") as disk, live_world(disk / "hwc.db", run_workers=True) as w:
        school, senders = _school_with_sender(w)
        assert httpx.get(f"{w.url}/readyz").status_code == 200
        filler = _fill(disk)
        statuses = []
        for _ in range(200):
            statuses.append(w.send(senders[len(statuses) % 10], school, NAME, BORN).status_code)
            if statuses[-1] != 201:
                break
        assert statuses[-1] == 500, statuses
        ready = httpx.get(f"{w.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["causes"]["database"].startswith("disk full (schijf vol)")
        filler.unlink()
        _poll_readyz(w.url, lambda r: r.status_code == 200, timeout=40)
        assert w.send(senders[0], school, NAME, BORN).status_code == 201
    lines = "\n".join(log_capture.lines)
    assert "not ready: database: disk full (schijf vol) [SQLITE_FULL]" in lines
    assert "ready again" in lines
    assert NAME not in lines and BORN not in lines


def _send_until_refused(
    url: str, sender: object, school: str, contacts: list, most: int = 200
) -> list[int]:
    from tests.support import new_signal_id, seal

    devices = [{"device_id": c.device_id, "public_key": c.public_key} for c in contacts]
    statuses = []
    cookies = {"__Host-hwc": sender.credential}  # type: ignore[attr-defined]
    with httpx.Client(base_url=url, headers={"X-HWC": "1"}, cookies=cookies) as http:
        for _ in range(most):
            signal_id = new_signal_id()
            response = http.post(
                "/api/signals",
                json={
                    "id": signal_id,
                    "recipient_id": school,
                    "envelopes": seal(devices, signal_id, NAME, BORN),
                },
            )
            statuses.append(response.status_code)
            if response.status_code != 201:
                break
    return statuses


def _damage_a_table(path: Path, table: str) -> None:
    """Overwrite the b-tree header of `table`'s root page in a closed, checkpointed file."""
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
    conn.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * 64)


def test_a_damaged_database_is_refused_at_start_with_the_restore_steps(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with live_world(db_path) as w:
        _school_with_sender(w)
    _damage_a_table(db_path, "devices")
    with pytest.raises(database.DatabaseDamaged) as refused:
        create_app(make_settings(db_path, "http://127.0.0.1:1"))
    message = str(refused.value)
    assert "is damaged (PRAGMA quick_check:" in message
    assert "hwc restore BACKUP" in message

    # As the Procfile runs it: the process exits and says why.
    started = subprocess.run(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "server.app:create_app",
            "--port",
            str(free_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"HWC_DATABASE": str(db_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert started.returncode != 0
    assert "DatabaseDamaged: database" in started.stderr and "hwc restore" in started.stderr
    # `hwc serve`: the message alone.
    assert hwc(["serve", "--database", str(db_path), "--port", str(free_port())]) == 1
    assert capsys.readouterr().err.startswith(f"database {db_path} is damaged")


def test_a_background_task_that_dies_restarts_and_shows_in_readiness(
    db_path: Path, log_capture: LogCapture
) -> None:
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(log_capture)
    try:
        with live_world(db_path, run_workers=True) as w:
            timers = w.app.state.timers
            loop = timers._task.get_loop()
            assert httpx.get(f"{w.url}/readyz").status_code == 200
            # A real fault under the timers' feet: a table they read is gone.
            w.db.execute("ALTER TABLE envelopes RENAME TO envelopes_away")
            loop.call_soon_threadsafe(timers.wake)
            unready = _poll_readyz(w.url, lambda r: r.status_code == 503)
            assert unready.json()["checks"]["timers"] is False
            assert unready.json()["causes"]["timers"].startswith(
                "stopped after OperationalError; restart"
            )
            w.db.execute("ALTER TABLE envelopes_away RENAME TO envelopes")
            ready = _poll_readyz(w.url, lambda r: r.status_code == 200)
            assert ready.json()["causes"] == {}
            assert timers.health.restarts >= 1
            # Broken again when the server stops: the shutdown is still clean.
            w.db.execute("ALTER TABLE envelopes RENAME TO envelopes_away")
            loop.call_soon_threadsafe(timers.wake)
            _poll_readyz(w.url, lambda r: r.status_code == 503)
    finally:
        uvicorn_log.removeHandler(log_capture)
    lines = "\n".join(log_capture.lines)
    assert "timers stopped after OperationalError; restarting in 1 s (restart 1)" in lines
    assert "Application shutdown failed" not in lines


def _poll_readyz(url: str, until: object, timeout: float = 20) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{url}/readyz")
        if until(response) or time.monotonic() > deadline:  # type: ignore[operator]
            assert until(response), response.text  # type: ignore[operator]
            return response
        time.sleep(0.1)
