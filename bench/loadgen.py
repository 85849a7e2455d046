"""The load generator: a separate process with raw asyncio HTTP/1.1 keep-alive connections.

Run as `python -m bench.loadgen JOB RESULT` (both pickle files written/read by bench.run).
The job holds pre-encoded requests, so the timed part does no encoding, no crypto and no
JSON work: it writes bytes, reads one response per request and records the time.

Modes:
- "closed": `concurrency` connections, each sends its next request when the previous
  answer is in (a closed loop); the first `warmup` requests are not recorded.
- "burst": requests are fired in groups of `concurrency`, all at once on their own
  connection, and the next group starts when the whole group is answered (contention).

The process measures its own CPU time (getrusage) and that of the watched pids
(/proc/<pid>/stat) over exactly the timed window, so the report can show who was busy.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import resource
import sys
import time
from typing import Any

from bench.common import machine_cpu_seconds, proc_cpu_seconds, proc_runq_wait_seconds

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is part of uvicorn[standard]
    uvloop = None


class Connection(asyncio.Protocol):
    """One keep-alive connection that carries one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.keep_body = False
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._parse()

    def _parse(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        status = int(head[9:12])
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError("response without content-length")
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop > 0 else None].strip())
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        body = bytes(self.buffer[end + 4 : total]) if self.keep_body else b""
        del self.buffer[:total]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body))

    def request(self, raw: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self.waiter


async def _connect(host: str, port: int, count: int) -> list[Connection]:
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(count):
        _, protocol = await loop.create_connection(Connection, host, port)
        conns.append(protocol)
    return conns


async def _closed(job: dict[str, Any], conns: list[Connection], out: dict[str, Any]) -> None:
    requests: list[bytes] = job["requests"]
    warmup = job.get("warmup", 0)
    pause = job.get("pause", 0.0)
    n = len(requests)
    lat = [0] * n
    status = [0] * n
    done_wall = [0.0] * n
    bodies: list[bytes] = [b""] * n
    next_index = 0
    timed_start: list[float] = []
    window: dict[str, Any] = {}

    def start_window() -> None:
        timed_start.append(time.perf_counter())
        window["rusage"] = resource.getrusage(resource.RUSAGE_SELF)
        window["cpu"] = {pid: proc_cpu_seconds(pid) for pid in job.get("watch_pids", [])}
        window["machine"] = machine_cpu_seconds()
        window["runq"] = {pid: proc_runq_wait_seconds(pid) for pid in job.get("watch_pids", [])}

    if warmup == 0:
        start_window()

    async def worker(conn: Connection) -> None:
        nonlocal next_index
        while next_index < n:
            i = next_index
            next_index += 1
            if i == warmup and warmup:
                start_window()
            t0 = time.perf_counter_ns()
            try:
                code, body = await conn.request(requests[i])
            except ConnectionError:
                code, body = -1, b""
            lat[i] = time.perf_counter_ns() - t0
            done_wall[i] = time.time()
            status[i] = code
            if conn.keep_body:
                bodies[i] = body
            if code == -1:
                return
            if pause:
                await asyncio.sleep(pause)

    for conn in conns:
        conn.keep_body = job.get("keep_bodies", False)
    await asyncio.gather(*(worker(c) for c in conns))
    end = time.perf_counter()
    _finish_window(job, window, out, end - (timed_start[0] if timed_start else end))
    out.update(
        lat_ns=lat[warmup:],
        status=status[warmup:],
        done_wall=done_wall[warmup:],
        bodies=bodies[warmup:] if job.get("keep_bodies") else [],
    )


async def _burst(job: dict[str, Any], conns: list[Connection], out: dict[str, Any]) -> None:
    requests: list[bytes] = job["requests"]
    size = len(conns)
    statuses: list[int] = []
    lat: list[int] = []
    window = {
        "rusage": resource.getrusage(resource.RUSAGE_SELF),
        "cpu": {pid: proc_cpu_seconds(pid) for pid in job.get("watch_pids", [])},
        "machine": machine_cpu_seconds(),
        "runq": {pid: proc_runq_wait_seconds(pid) for pid in job.get("watch_pids", [])},
    }
    start = time.perf_counter()
    for group_at in range(0, len(requests), size):
        group = requests[group_at : group_at + size]
        t0 = time.perf_counter_ns()
        futures = [conn.request(raw) for conn, raw in zip(conns, group, strict=False)]
        for fut in futures:
            try:
                code, _ = await fut
            except ConnectionError:
                code = -1
            statuses.append(code)
            lat.append(time.perf_counter_ns() - t0)
    _finish_window(job, window, out, time.perf_counter() - start)
    out.update(lat_ns=lat, status=statuses, done_wall=[], bodies=[])


def _finish_window(
    job: dict[str, Any], window: dict[str, Any], out: dict[str, Any], elapsed: float
) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    before = window.get("rusage", usage)
    out["elapsed"] = elapsed
    out["cpu_self"] = (usage.ru_utime - before.ru_utime) + (usage.ru_stime - before.ru_stime)
    out["cpu_watch"] = {
        pid: proc_cpu_seconds(pid) - cpu for pid, cpu in window.get("cpu", {}).items()
    }
    out["runq_watch"] = {
        pid: proc_runq_wait_seconds(pid) - wait for pid, wait in window.get("runq", {}).items()
    }
    busy, total = machine_cpu_seconds()
    busy0, total0 = window.get("machine", (busy, total))
    # Busy core-seconds of the whole machine in the window, and how many cores it has.
    out["machine_busy"] = busy - busy0
    out["machine_cores"] = (total - total0) / elapsed if elapsed else 0.0


async def run(job: dict[str, Any]) -> dict[str, Any]:
    conns = await _connect(job["host"], job["port"], job["concurrency"])
    out: dict[str, Any] = {}
    try:
        if job.get("mode", "closed") == "burst":
            await _burst(job, conns, out)
        else:
            await _closed(job, conns, out)
    finally:
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
    return out


def main(argv: list[str]) -> int:
    job_path, result_path = argv
    with open(job_path, "rb") as f:
        job = pickle.load(f)
    coro = asyncio.wait_for(run(job), job.get("timeout", 300))
    out = uvloop.run(coro) if uvloop is not None else asyncio.run(coro)
    out["pid"] = os.getpid()
    out["loop"] = "uvloop" if uvloop is not None else "asyncio"
    with open(result_path, "wb") as f:
        pickle.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
