"""The soak's load generator: paced sends (each opened by a contact) for a long time, sampled.

Run as `python -m bench.soakload JOB RESULT` (pickle files written/read by bench.soak). Unlike
bench.loadgen it seals each body as it goes (a soak of an hour would not fit pre-encoded), at a
fixed rate (an open loop: a send's latency counts from its scheduled moment, so a server that
falls behind shows it). Every `interval` seconds it records one sample: the server's RSS and
open descriptors, the WAL and database file sizes, the server's CPU share, the p50/p99 of the
sends and opens answered in that interval with their statuses, and one GET /readyz.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import sqlite3
import sys
import time
from collections import Counter
from typing import Any

from bench.common import http_request, percentile, proc_cpu_seconds, proc_status_kb
from bench.loadgen import Connection, _connect
from bench.seed import Dev, School, intake_body
from server.envelope import new_signal_id

JSON_HEADERS = {"X-HWC": "1", "Content-Type": "application/json"}

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is part of uvicorn[standard]
    uvloop = None


def server_sample(pid: int, db_path: str) -> dict[str, Any]:
    """What the server holds: memory, descriptors, files, stored signals."""
    stored = pending = None
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            stored = conn.execute("SELECT count(*) FROM signals").fetchone()[0]
            pending = conn.execute(
                "SELECT count(*) FROM outbox WHERE state = 'pending'"
            ).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        pass
    return {
        "rss_mb": (proc_status_kb(pid, "VmRSS") or 0) / 1024,
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "wal_mb": _size(db_path + "-wal") / 2**20,
        "db_mb": _size(db_path) / 2**20,
        "cpu_s": proc_cpu_seconds(pid),
        "stored_signals": stored,
        "pending_pushes": pending,
    }


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


class Soak:
    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.port: int = job["port"]
        self.senders: list[Dev] = job["senders"]
        self.schools: list[School] = job["schools"]
        self.answered: list[tuple[str, int, float]] = []  # (kind, status, ms) this interval
        self.samples: list[dict[str, Any]] = []
        self.free: asyncio.Queue[Connection] = asyncio.Queue()

    async def request(self, raw: bytes, kind: str, started: float) -> int:
        conn = await self.free.get()
        if conn.lost.done():  # closed by the server's keep-alive timeout while idle
            conn = (await _connect(self.job["host"], self.port, 1))[0]
        try:
            status, _ = await conn.request(raw)
        except ConnectionError:
            status = -1
            conn = (await _connect(self.job["host"], self.port, 1))[0]
        finally:
            self.free.put_nowait(conn)
        self.answered.append((kind, status, (time.perf_counter() - started) * 1000))
        return status

    async def one_signal(self, i: int, scheduled: float) -> None:
        school = self.schools[i % len(self.schools)]
        sender = self.senders[i % len(self.senders)]
        signal_id = new_signal_id()
        body = intake_body(school, signal_id)
        raw = http_request(
            "POST", "/api/signals", self.port, {"Cookie": sender.cookie, **JSON_HEADERS}, body
        )
        if await self.request(raw, "send", scheduled) == 201:
            contact = school.contacts[(i // len(self.schools)) % len(school.contacts)]
            raw = http_request(
                "POST",
                f"/api/signals/{signal_id}/open",
                self.port,
                {"Cookie": contact.cookie, "X-HWC": "1"},
            )
            await self.request(raw, "open", time.perf_counter())

    async def run(self) -> None:
        for conn in await _connect(self.job["host"], self.port, self.job["concurrency"]):
            self.free.put_nowait(conn)
        start = time.perf_counter()
        sampler = asyncio.create_task(self.sample_every(start))
        tasks: set[asyncio.Task[None]] = set()
        rate, seconds = self.job["rate"], self.job["seconds"]
        i = 0
        while (scheduled := start + i / rate) < start + seconds:
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            task = asyncio.create_task(self.one_signal(i, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        await asyncio.gather(*tasks)
        sampler.cancel()
        await self.sample(start)

    async def sample_every(self, start: float) -> None:
        interval = self.job["interval"]
        warmed = False
        while True:
            await asyncio.sleep(interval - (time.perf_counter() - start) % interval)
            await self.sample(start)
            if not warmed and time.perf_counter() - start >= self.job["warmup"]:
                warmed = True
                os.kill(self.job["server_pid"], signal.SIGUSR1)  # object census after warm-up

    async def readyz(self) -> tuple[int, list[str]]:
        """One probe on a fresh connection, as a platform's health checker makes it."""
        probe = (await _connect(self.job["host"], self.port, 1))[0]
        probe.keep_body = True
        try:
            status, body = await asyncio.wait_for(
                probe.request(http_request("GET", "/readyz", self.port)), 10
            )
            checks = json.loads(body).get("checks", {})
            return status, [
                k
                for k, v in checks.items()
                if v is False or (isinstance(v, dict) and v.get("ok") is False)
            ]
        except (ConnectionError, TimeoutError, ValueError):
            return -1, []
        finally:
            if probe.transport is not None:
                probe.transport.close()

    async def sample(self, start: float) -> None:
        answered, self.answered = self.answered, []
        t = time.perf_counter() - start
        ready, unready = await self.readyz()
        sample = {
            "t": round(t, 1),
            **server_sample(self.job["server_pid"], self.job["db_path"]),
            "readyz": ready,
            "unready": unready,
        }
        for kind in ("send", "open"):
            ms = [m for k, _, m in answered if k == kind]
            sample[f"{kind}s"] = len(ms)
            sample[f"{kind}_p50_ms"] = percentile(ms, 50)
            sample[f"{kind}_p99_ms"] = percentile(ms, 99)
        sample["statuses"] = dict(Counter(s for _, s, _ in answered))
        previous = self.samples[-1] if self.samples else None
        sample["cpu_share"] = (
            (sample["cpu_s"] - previous["cpu_s"]) / (t - previous["t"]) if previous else None
        )
        self.samples.append(sample)
        print(
            f"  soak {t / 60:5.1f} min: RSS {sample['rss_mb']:.1f} MB, fds {sample['fds']}, "
            f"WAL {sample['wal_mb']:.1f} MB, db {sample['db_mb']:.1f} MB, "
            f"{sample['sends']} sends p99 {sample['send_p99_ms']:.1f} ms, "
            f"readyz {ready}{' ' + ','.join(unready) if unready else ''}, "
            f"stored {sample['stored_signals']}",
            flush=True,
        )


def main(argv: list[str]) -> int:
    job_path, result_path = argv
    with open(job_path, "rb") as f:
        job = pickle.load(f)
    soak = Soak(job)
    runner = uvloop.run if uvloop is not None else asyncio.run
    runner(soak.run())
    os.kill(job["server_pid"], signal.SIGUSR1)  # the final census, before the server stops
    with open(result_path, "wb") as f:
        pickle.dump(soak.samples, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
