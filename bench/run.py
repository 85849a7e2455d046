"""The benchmark run: seed, start processes, drive load, collect figures (DESIGN.md section 9)."""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from bench import fanout, keylogcost, signcost, weight
from bench.common import HOST, http_request, machine_cpu_seconds, percentile, proc_cpu_seconds
from bench.procs import Proc, bare_server, fake_push, prioritize, real_server, run_loadgen
from bench.seed import Dev, OpenItem, School, World, intake_body, seed
from server.envelope import new_signal_id

SEND_LIMIT_SHARE = 100  # requests per sender device per server lifetime (limit: 120/min)
OPEN_LIMIT_SHARE = 50  # opens per teacher device per server lifetime (limit: 60/min)
SCHOOLS = 100


@dataclass(frozen=True)
class Sizes:
    intake: dict[int, int]
    opens: dict[int, int]
    warmup: int
    cold: int
    opens_2dev: int
    contention: int
    healthz: int
    wrk_seconds: int
    push_latency: int
    fanout: int
    growth: tuple[int, ...]
    growth_n: int
    growth_open_n: int  # opens per repetition: every open needs its own stored signal, so
    # repeats * (growth_open_n + warmup) must stay within the smallest level (10^3)
    repeats: int  # c=50 comparisons and growth levels: best of this many (shared machine)


QUICK = Sizes(
    intake={1: 300, 10: 1500, 50: 2500},
    opens={1: 300, 10: 1500, 50: 2500},
    warmup=100,
    cold=600,
    opens_2dev=1000,
    contention=20,
    healthz=20000,
    wrk_seconds=5,
    push_latency=100,
    fanout=1000,
    growth=(1_000, 10_000, 100_000),
    growth_n=600,
    growth_open_n=350,
    repeats=2,
)
FULL = Sizes(
    intake={1: 1000, 10: 6000, 50: 12000},
    opens={1: 1000, 10: 6000, 50: 12000},
    warmup=300,
    cold=2000,
    opens_2dev=4000,
    contention=50,
    healthz=60000,
    wrk_seconds=10,
    push_latency=300,
    fanout=2000,
    growth=(1_000, 10_000, 100_000),
    growth_n=3000,
    growth_open_n=230,
    repeats=3,
)

JSON_HEADERS = {"X-HWC": "1", "Content-Type": "application/json"}


def summarize(
    result: dict[str, Any], server_pid: int | None = None, ok: tuple[int, ...] = (200, 201)
) -> dict[str, Any]:
    lat_ms = [v / 1e6 for v in result["lat_ns"]]
    statuses = Counter(result["status"])
    n = len(lat_ms)
    elapsed = result["elapsed"]
    out = {
        "n": n,
        "ok": sum(statuses[s] for s in ok),
        "statuses": dict(statuses),
        "elapsed_s": elapsed,
        "rate": n / elapsed if elapsed else math.nan,
        "p50_ms": percentile(lat_ms, 50),
        "p99_ms": percentile(lat_ms, 99),
        "max_ms": max(lat_ms) if lat_ms else math.nan,
        "cpu_loadgen": result["cpu_self"] / elapsed if elapsed else math.nan,
    }
    if server_pid is not None:
        server_cpu = result["cpu_watch"].get(server_pid, math.nan)
        out["cpu_server"] = server_cpu / elapsed
        out["server_cpu_ms_per_request"] = server_cpu * 1000 / n if n else math.nan
        # Share of the window the server was runnable but waiting for a CPU (a busy machine).
        runq = result.get("runq_watch", {}).get(server_pid, math.nan)
        out["server_runq_share"] = runq / elapsed
        # The same work without the time a busy machine kept the (single-threaded) server
        # waiting for a CPU: an estimate of the rate on a quiet machine, for server-bound phases.
        out["rate_unstarved"] = n / max(elapsed - runq, 1e-9) if runq == runq else math.nan
    if elapsed and "machine_busy" in result:
        # Core-seconds per second used by everything else on the machine (other processes).
        other = result["machine_busy"] - result["cpu_self"] - sum(result["cpu_watch"].values())
        out["cpu_other"] = max(0.0, other) / elapsed
    return out


class Profiler:
    """py-spy record of one process during one phase (only with --profile DIR)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory

    @contextlib.contextmanager
    def __call__(self, pid: int, name: str) -> Iterator[None]:
        if not self.directory or not shutil.which("py-spy"):
            yield
            return
        os.makedirs(self.directory, exist_ok=True)
        out = os.path.join(self.directory, f"{name}.txt")
        spy = subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(pid),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                out,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # attached before the load starts
        try:
            yield
        finally:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()


class Bench:
    def __init__(
        self,
        sizes: Sizes,
        quick: bool,
        profile_dir: str | None,
        log: Any = print,
        quiet_budget: float = 0.0,
    ) -> None:
        self.sizes = sizes
        self.quiet_budget = quiet_budget
        self.quick = quick
        self.profile = Profiler(profile_dir)
        self.log = log
        self.tmp = tempfile.mkdtemp(prefix="hwc-bench-")
        self.results: dict[str, Any] = {"sizes": asdict(sizes)}
        self.peaks: dict[str, int | None] = {}

    # -- plumbing ------------------------------------------------------------------------------

    def load(
        self,
        port: int,
        requests: list[bytes],
        concurrency: int,
        warmup: int = 0,
        watch: Proc | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        job = {
            "host": HOST,
            "port": port,
            "requests": requests,
            "concurrency": concurrency,
            "warmup": warmup,
            "watch_pids": [watch.pid] if watch else [],
            **extra,
        }
        return run_loadgen(job, self.tmp)

    def measure(
        self,
        proc: Proc,
        requests: list[bytes],
        concurrency: int,
        warmup: int = 0,
        ok: tuple[int, ...] = (200, 201),
        profile: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        waited = self.wait_quiet()
        ctx = self.profile(proc.pid, profile) if profile else contextlib.nullcontext()
        with ctx:
            raw = self.load(proc.port, requests, concurrency, warmup, proc, **extra)
        out = summarize(raw, proc.pid, ok)
        out["concurrency"] = concurrency
        out["waited_for_quiet_s"] = waited
        out["_raw"] = raw
        return out

    def wait_quiet(self) -> float:
        """Wait (within the run's budget) until other processes use < half a core."""
        waited = 0.0
        while self.quiet_budget > 0:
            busy0, total0 = machine_cpu_seconds()
            time.sleep(0.5)
            busy1, total1 = machine_cpu_seconds()
            if (busy1 - busy0) / 0.5 < 0.5:
                break
            waited += 0.5
            self.quiet_budget -= 0.5
        self.results.setdefault("waited_for_quiet_s", 0.0)
        self.results["waited_for_quiet_s"] += waited
        return waited

    # -- request sets ----------------------------------------------------------------------

    @staticmethod
    def intake_set(
        schools: list[School], devs: list[Dev], count: int
    ) -> list[tuple[Dev, bytes, str]]:
        """(device, body, signal id): bodies sealed by the Python envelope, fresh signal ids."""
        items = []
        for i in range(count):
            sid = new_signal_id()
            items.append((devs[i % len(devs)], intake_body(schools[i % len(schools)], sid), sid))
        return items

    @staticmethod
    def intake_requests(port: int, items: list[tuple[Dev, bytes, str]]) -> list[bytes]:
        return [
            http_request("POST", "/api/signals", port, {"Cookie": dev.cookie, **JSON_HEADERS}, body)
            for dev, body, _ in items
        ]

    @staticmethod
    def bare_intake_requests(port: int, items: list[tuple[Dev, bytes, str]]) -> list[bytes]:
        return [
            http_request("POST", "/bare/signals", port, {"Content-Type": "application/json"}, body)
            for _, body, _ in items
        ]

    @staticmethod
    def open_set(pool: list[list[OpenItem]], count: int) -> list[OpenItem]:
        """Round-robin over the teachers, so no device opens more than its share."""
        teachers = math.ceil(count / OPEN_LIMIT_SHARE)
        chosen = pool[:teachers]
        del pool[:teachers]
        return [chosen[i % teachers][i // teachers] for i in range(count)]

    @staticmethod
    def open_requests(port: int, items: list[OpenItem]) -> list[bytes]:
        return [
            http_request(
                "POST",
                f"/api/signals/{it.signal_id}/open",
                port,
                {"Cookie": it.device.cookie, "X-HWC": "1"},
            )
            for it in items
        ]

    @staticmethod
    def bare_claim_requests(port: int, items: list[OpenItem]) -> list[bytes]:
        return [
            http_request(
                "POST", f"/bare/claim/{it.signal_id}?d={it.device.id}&p={it.device.person_id}", port
            )
            for it in items
        ]

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        fake = fake_push(self.tmp).start()
        try:
            self.main_run(fake)
            self.fanout_runs(fake)
            self.growth_runs()
            fake.rss_peak_kb()
        finally:
            fake.stop()
        self.results["fake_push_peak_rss_kb"] = fake.peak_rss_kb
        self.results["peak_rss_kb"] = self.peaks
        self.results["duration_s"] = time.monotonic() - started
        return self.results

    def main_run(self, fake: Proc) -> None:
        """Intake and opens, each on its own database with a real server and its bare twin
        side by side: every real phase is followed at once by the bare one on an identical
        database, so both see the same machine (it may be shared). Opens need one stored
        signal per open; keeping them apart leaves the intake database small."""
        r: dict[str, Any] = {}
        self.intake_pair(fake, r)
        self.open_pair(r)
        for value in r.values():
            if isinstance(value, dict):
                value.pop("_raw", None)
        self.results.update(r)

    def _pair(self, name: str, world: World) -> tuple[Proc, Proc]:
        bare_path = f"{world.path}-bare"
        shutil.copy(world.path, bare_path)
        self.results[f"{name}_stored_signals_at_start"] = world.stored
        return real_server(world.path, self.tmp), bare_server(bare_path, self.tmp)

    def intake_pair(self, fake: Proc, r: dict[str, Any]) -> None:
        s = self.sizes
        reps = {c: s.repeats if c == 50 else 1 for c in s.intake}
        phases = {c: (n + s.warmup) * reps[c] for c, n in s.intake.items()}
        senders = (
            sum(math.ceil(n / SEND_LIMIT_SHARE) for n in phases.values())
            + s.cold
            + math.ceil(s.push_latency / SEND_LIMIT_SHARE)
        )
        push_subs = fanout.subscriptions(fake, 2)
        self.log(
            f"seeding the intake database: {senders} sender devices, {SCHOOLS} schools x 2 "
            "contact devices"
        )
        world = seed(
            os.path.join(self.tmp, "intake.db"),
            schools=SCHOOLS,
            senders=senders,
            push_school_subs=push_subs,
        )
        server, bare = self._pair("intake", world)
        self.log("sealing intake bodies (Python envelope, before any timing)")
        sender_pool = list(world.senders)
        items: dict[int, list] = {}
        for c, n in phases.items():
            devs = [sender_pool.pop() for _ in range(math.ceil(n / SEND_LIMIT_SHARE))]
            items[c] = self.intake_set(world.schools, devs, n)
        cold_devs = [sender_pool.pop() for _ in range(s.cold)]
        cold_items = self.intake_set(world.schools, cold_devs, s.cold)
        assert world.push_school is not None
        latency_devs = [
            sender_pool.pop() for _ in range(math.ceil(s.push_latency / SEND_LIMIT_SHARE))
        ]
        latency_items = self.intake_set([world.push_school], latency_devs, s.push_latency)
        with server, bare:
            self.log(
                f"real server pid {server.pid} on {server.base_url}, bare ceiling app "
                f"pid {bare.pid}"
            )
            r["healthz"] = self.measure(
                server,
                [http_request("GET", "/healthz", server.port)] * s.healthz,
                50,
                s.warmup * 10,
            )
            r["bare_healthz"] = self.measure(
                bare, [http_request("GET", "/healthz", bare.port)] * s.healthz, 50, s.warmup * 10
            )
            r["healthz_wrk"] = wrk(server, "/healthz", 50, s.wrk_seconds)
            for c in s.intake:
                self.log(f"intake, {c} concurrent (real, then bare; best of {reps[c]})")
                real, ceiling = [], []
                for i, chunk in enumerate(_split(items[c], reps[c])):
                    real.append(
                        self.measure(
                            server,
                            self.intake_requests(server.port, chunk),
                            c,
                            s.warmup,
                            profile=f"intake_c{c}" if c == 50 and i == 0 else None,
                        )
                    )
                    ceiling.append(
                        self.measure(bare, self.bare_intake_requests(bare.port, chunk), c, s.warmup)
                    )
                r[f"intake_c{c}"], r[f"bare_intake_c{c}"] = _best(real), _best(ceiling)
            self.log("intake, 50 concurrent, every request from a device unseen for > 60 s")
            r["intake_cold_c50"] = self.measure(
                server,
                self.intake_requests(server.port, cold_items),
                50,
                0,
                profile="intake_cold_c50",
            )
            self.log("send-to-push latency")
            r["send_to_push"] = self.send_to_push(server, fake, latency_items)
            self.log("first-load weight")
            r["weight"] = weight.measure(server.port)
            self.log("key log verification in Chromium")
            r["keylog"] = keylogcost.measure(server.port)
            self.log("envelope signature (version 3) in Chromium and Python")
            r["signing"] = signcost.measure(server.port)
            self.peaks["intake"] = server.rss_peak_kb()
            self.peaks["intake_bare"] = bare.rss_peak_kb()

    def open_pair(self, r: dict[str, Any]) -> None:
        s = self.sizes
        reps = {c: s.repeats if c == 50 else 1 for c in s.opens}
        phases = {c: (n + s.warmup) * reps[c] for c, n in s.opens.items()}
        teachers = sum(math.ceil(n / OPEN_LIMIT_SHARE) for n in phases.values())
        teachers_2dev = math.ceil(s.opens_2dev / OPEN_LIMIT_SHARE)
        self.log(
            f"seeding the open database: {teachers} teachers x {OPEN_LIMIT_SHARE} "
            f"forwarded signals, {teachers_2dev} teachers with two devices, "
            f"{s.contention} contention signals"
        )
        world = seed(
            os.path.join(self.tmp, "open.db"),
            schools=SCHOOLS,
            open_teachers=teachers,
            opens_per_teacher=OPEN_LIMIT_SHARE,
            contention_trials=s.contention,
            open_teachers_2dev=teachers_2dev,
        )
        server, bare = self._pair("open", world)
        pool = list(world.open_pool)
        items = {c: self.open_set(pool, n) for c, n in phases.items()}
        items_2dev = self.open_set(list(world.open_pool_2dev), s.opens_2dev)
        with server, bare:
            for c in s.opens:
                self.log(
                    f"teacher opens, {c} concurrent (real, then bare claim; best of {reps[c]})"
                )
                real, ceiling = [], []
                for i, chunk in enumerate(_split(items[c], reps[c])):
                    real.append(
                        self.measure(
                            server,
                            self.open_requests(server.port, chunk),
                            c,
                            s.warmup,
                            profile=f"open_c{c}" if c == 50 and i == 0 else None,
                        )
                    )
                    ceiling.append(
                        self.measure(bare, self.bare_claim_requests(bare.port, chunk), c, s.warmup)
                    )
                r[f"open_c{c}"], r[f"bare_claim_c{c}"] = _best(real), _best(ceiling)
            self.log("teacher opens, 50 concurrent, teachers with a second device (erased)")
            r["open_2dev_c50"] = self.measure(
                server, self.open_requests(server.port, items_2dev), 50, 0, profile="open_2dev_c50"
            )
            r["bare_claim_2dev_c50"] = self.measure(
                bare, self.bare_claim_requests(bare.port, items_2dev), 50, 0
            )
            self.log("one-time open under contention")
            r["contention"] = self.contention(server, world)
            self.peaks["open"] = server.rss_peak_kb()
            self.peaks["open_bare"] = bare.rss_peak_kb()

    def contention(self, server: Proc, world: World) -> dict[str, Any]:
        requests = []
        for signal_id, devs in world.contention:
            requests += [
                http_request(
                    "POST",
                    f"/api/signals/{signal_id}/open",
                    server.port,
                    {"Cookie": d.cookie, "X-HWC": "1"},
                )
                for d in devs
            ]
        size = len(world.contention[0][1])
        raw = self.load(server.port, requests, size, mode="burst", watch=server)
        statuses = raw["status"]
        trials = [statuses[i : i + size] for i in range(0, len(statuses), size)]
        exact = sum(1 for t in trials if t.count(200) == 1 and t.count(404) == size - 1)
        lat = [v / 1e6 for v in raw["lat_ns"]]
        return {
            "trials": len(trials),
            "clients": size,
            "exactly_one_200": exact,
            "statuses": dict(Counter(statuses)),
            "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99),
        }

    def send_to_push(
        self, server: Proc, fake: Proc, items: list[tuple[Dev, bytes, str]]
    ) -> dict[str, Any]:
        fanout._reset(fake, 0.0)
        raw = self.load(
            server.port, self.intake_requests(server.port, items), 1, 0, server, pause=0.02
        )
        deadline = time.monotonic() + 30
        expected = 2 * len(items)
        while fanout._stats(fake)["messages"] < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        received: dict[str, list[float]] = {}
        import json

        for m in fanout._messages(fake):
            sid = json.loads(m["payload"])["signal_id"]
            received.setdefault(sid, []).append(m["received_at"])
        latencies = []
        for (_, _, sid), done, status in zip(items, raw["done_wall"], raw["status"], strict=True):
            if status == 201:
                latencies += [(at - done) * 1000 for at in received.get(sid, [])]
        return {
            "signals": len(items),
            "pushes_expected": expected,
            "pushes_received": len(latencies),
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "min_ms": min(latencies) if latencies else math.nan,
            "sends_p50_ms": percentile([v / 1e6 for v in raw["lat_ns"]], 50),
        }

    def fanout_runs(self, fake: Proc) -> None:
        n = self.sizes.fanout
        subs = fanout.subscriptions(fake, n)
        vapid = ""
        out: dict[str, Any] = {}
        for tag, delay in (("loopback", 0.0), ("delay30ms", 0.03)):
            self.log(
                f"fan-out of {n} pushes, fake push service answering after "
                f"{delay * 1000:.0f} ms: outbox worker"
            )
            self.wait_quiet()
            worker = fanout.worker_rate(
                fake,
                subs,
                delay,
                self.tmp,
                tag,
                profile=lambda pid, t=tag: self.profile(pid, f"fanout_{t}"),
            )
            self.peaks[f"fanout_{tag}"] = worker.pop("peak_rss_kb")
            if not vapid:
                vapid = _vapid_of(os.path.join(self.tmp, f"fanout-{tag}.db"))
            self.log(f"fan-out of {n} pushes, {delay * 1000:.0f} ms: sequential webpush()")
            self.wait_quiet()
            baseline = fanout.sequential_baseline(fake, subs, delay, vapid)
            out[tag] = {
                "worker": worker,
                "baseline": baseline,
                "ratio": worker["rate"] / baseline["rate"],
            }
        fanout._reset(fake, 0.0)
        self.results["fanout"] = out

    def growth_runs(self) -> None:
        """Each level on its own database and server, all running side by side; the
        repetitions go round the levels, so a busy moment of the machine hits them alike."""
        s = self.sizes
        n = s.growth_n + s.warmup
        warm_open = min(s.warmup, 100)
        n_open = s.growth_open_n + warm_open
        teachers = math.ceil(n_open * s.repeats / OPEN_LIMIT_SHARE)
        senders = math.ceil(n * s.repeats / SEND_LIMIT_SHARE)
        levels: dict[int, dict[str, Any]] = {}
        for level in s.growth:
            path = os.path.join(self.tmp, f"growth-{level}.db")
            pool_size = teachers * OPEN_LIMIT_SHARE
            self.log(f"growth: seeding {level:,} stored signals")
            t0 = time.monotonic()
            world = seed(
                path,
                schools=SCHOOLS,
                senders=senders,
                open_teachers=teachers,
                opens_per_teacher=OPEN_LIMIT_SHARE,
                stored=max(0, level - pool_size),
            )
            levels[level] = {
                "world": world,
                "seed_s": time.monotonic() - t0,
                "intake": _split(
                    self.intake_set(world.schools, world.senders, n * s.repeats), s.repeats
                ),
                "open": _split(self.open_set(list(world.open_pool), n_open * s.repeats), s.repeats),
                "server": real_server(path, self.tmp),
                "reps": {"intake": [], "open": []},
            }
        with contextlib.ExitStack() as stack:
            for g in levels.values():
                stack.enter_context(g["server"])
            for rep in range(s.repeats):
                for level, g in levels.items():
                    self.log(
                        f"growth {level:,}: intake and opens, 10 concurrent ({rep + 1}/{s.repeats})"
                    )
                    server, big = g["server"], level == max(s.growth) and rep == 0
                    g["reps"]["intake"].append(
                        self.measure(
                            server,
                            self.intake_requests(server.port, g["intake"][rep]),
                            10,
                            s.warmup,
                            profile=f"growth_{level}_intake" if big else None,
                        )
                    )
                    g["reps"]["open"].append(
                        self.measure(
                            server,
                            self.open_requests(server.port, g["open"][rep]),
                            10,
                            warm_open,
                            profile=f"growth_{level}_open" if big else None,
                        )
                    )
            for level, g in levels.items():
                self.peaks[f"growth_{level}"] = g["server"].rss_peak_kb()
        out: dict[str, Any] = {}
        for level, g in levels.items():
            out[str(level)] = {
                "stored": g["world"].stored,
                "seed_s": g["seed_s"],
                "intake": _best(g["reps"]["intake"], "p99_ms"),
                "open": _best(g["reps"]["open"], "p99_ms"),
            }
        self.results["growth"] = out

    def cleanup(self, keep: bool) -> None:
        if keep:
            self.log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _split(items: list, parts: int) -> list[list]:
    size = len(items) // parts
    return [items[i * size : (i + 1) * size] for i in range(parts)]


def _best(reps: list[dict[str, Any]], by: str = "rate") -> dict[str, Any]:
    """The best repetition (highest rate, or lowest latency): on a shared machine noise only
    ever makes a figure worse. Every repetition is kept under "reps"."""
    for rep in reps:
        rep.pop("_raw", None)
    pick = max(reps, key=lambda m: m[by]) if by == "rate" else min(reps, key=lambda m: m[by])
    return {**pick, "reps": [{k: v for k, v in m.items() if k != "reps"} for m in reps]}


def _vapid_of(path: str) -> str:
    from server import db as database

    db = database.connect(path)
    try:
        return database.meta_get(db, "vapid_private_key") or ""
    finally:
        db.conn.close()


WRK_LINE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def wrk(server: Proc, path: str, connections: int, seconds: int) -> dict[str, Any]:
    """wrk on a GET route (when installed): one thread, `connections` keep-alive connections."""
    if not shutil.which("wrk"):
        return {"skipped": "wrk not installed (apt-get install -y wrk)"}
    cpu0 = proc_cpu_seconds(server.pid)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            f"{server.base_url}{path}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    prioritize(proc.pid)
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    cpu_server = proc_cpu_seconds(server.pid) - cpu0
    rate = re.search(r"Requests/sec:\s*([\d.]+)", output)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    lat = {q: float(v) * scale[u] for q, v, u in WRK_LINE.findall(output)}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    return {
        "rate": float(rate.group(1)) if rate else math.nan,
        "p50_ms": lat.get("50", math.nan),
        "p99_ms": lat.get("99", math.nan),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "cpu_loadgen": (usage.ru_utime + usage.ru_stime) / elapsed,
        "cpu_server": cpu_server / elapsed,
        "concurrency": connections,
    }
