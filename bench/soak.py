"""`python -m bench --soak MINUTES`: the real server under steady load for a long time.

A paced stream of sends (each opened by a contact, so pushes, reminders, escalations, expiry
and purges all run), with the server's clock sped up (`--soak-speed`, default 600: a school
week in about 17 minutes) so the timers see days of traffic. Every `--soak-interval` seconds
RSS, p99, WAL size and open descriptors are sampled (bench.soakload); after the warm-up each
gets its least-squares trend per hour. The server counts its live objects by type after the
warm-up and at the end (SIGUSR1), and the soak prints the types that grew: where to look when
memory grows. With `--soak-tracemalloc` it also diffs tracemalloc snapshots by line.
"""

from __future__ import annotations

import gc
import json
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from bench import fanout
from bench.common import HOST, free_port
from bench.procs import ROOT, Proc, fake_push, prioritize, uvicorn_flags
from bench.seed import seed

SCHOOLS = 100
METRICS = (
    ("rss_mb", "RSS", "MB"),
    ("send_p99_ms", "send p99", "ms"),
    ("wal_mb", "WAL", "MB"),
    ("fds", "open descriptors", ""),
    ("db_mb", "database file", "MB"),
    ("stored_signals", "stored signals", ""),
)


def create_app() -> Any:
    """The server as the Procfile runs it, with a faster clock and an object census on
    SIGUSR1 (written to BENCH_SOAK_DIR)."""
    from server.app import create_app as create
    from server.clock import Clock

    directory = Path(os.environ["BENCH_SOAK_DIR"])
    if os.environ.get("BENCH_SOAK_TRACEMALLOC"):
        tracemalloc.start(10)
    censuses = iter(range(1_000_000))

    def census(*_: object) -> None:
        number = next(censuses)
        counts = Counter(type(o).__qualname__ for o in gc.get_objects())
        (directory / f"census-{number}.json").write_text(json.dumps(counts))
        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(str(directory / f"trace-{number}.pickle"))

    signal.signal(signal.SIGUSR1, census)
    return create(clock=Clock(speed=float(os.environ.get("BENCH_SOAK_SPEED", "600"))))


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    n = len(points)
    if n < 2:
        return math.nan
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return math.nan
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var * 3600


def trends(samples: list[dict[str, Any]], warmup: float) -> dict[str, dict[str, float]]:
    after = [s for s in samples if s["t"] >= warmup]
    out = {}
    for key, _, _ in METRICS:
        points = [
            (s["t"], float(s[key]))
            for s in after
            if s.get(key) is not None and not math.isnan(float(s[key]))
        ]
        if points:
            values = [v for _, v in points]
            out[key] = {
                "first": values[0],
                "last": values[-1],
                "min": min(values),
                "max": max(values),
                "slope_per_hour": slope_per_hour(points),
            }
    return out


def trend_table(result: dict[str, Any]) -> str:
    lines = [
        f"{'after warm-up':<18}{'first':>10}{'last':>10}{'min':>10}{'max':>10}"
        f"{'trend per hour':>18}"
    ]
    for key, label, unit in METRICS:
        t = result["trends"].get(key)
        if t:
            lines.append(
                f"{label:<18}{t['first']:>10.1f}{t['last']:>10.1f}{t['min']:>10.1f}"
                f"{t['max']:>10.1f}{t['slope_per_hour']:>+14.1f} {unit}"
            )
    ready = [s["readyz"] for s in result["samples"]]
    lines.append(
        f"/readyz: {ready.count(200)} of {len(ready)} samples 200"
        + (f", unready: {result['unready']}" if result["unready"] else "")
    )
    lines.append(f"statuses: {result['statuses']}")
    return "\n".join(lines)


def census_growth(directory: Path, top: int = 15) -> list[tuple[str, int]]:
    """Object types that grew between the first census (after warm-up) and the last."""
    files = sorted(directory.glob("census-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    if len(files) < 2:
        return []
    first, last = (Counter(json.loads(f.read_text())) for f in (files[0], files[-1]))
    last.subtract(first)
    return [(name, n) for name, n in last.most_common(top) if n > 0]


def tracemalloc_growth(directory: Path, top: int = 15) -> list[str]:
    files = sorted(directory.glob("trace-*.pickle"), key=lambda p: int(p.stem.split("-")[1]))
    if len(files) < 2:
        return []
    first, last = (tracemalloc.Snapshot.load(str(f)) for f in (files[0], files[-1]))
    return [str(stat) for stat in last.compare_to(first, "lineno")[:top]]


def run_soak(
    minutes: float,
    rate: float,
    speed: float,
    interval: float,
    trace: bool = False,
    keep: bool = False,
    log: Any = print,
) -> dict[str, Any]:
    seconds = minutes * 60
    warmup = min(300.0, seconds / 3)
    tmp = Path(tempfile.mkdtemp(prefix="hwc-soak-"))
    fake = fake_push(str(tmp)).start()
    try:
        subs = fanout.subscriptions(fake, SCHOOLS * 2)
        senders = max(10, math.ceil(rate * 2))  # 30 sends a minute each (limit: 120)
        log(f"seeding: {SCHOOLS} schools x 2 subscribed contact devices, {senders} senders")
        world = seed(str(tmp / "soak.db"), schools=SCHOOLS, senders=senders, contact_subs=subs)
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.soak:create_app",
            "--host",
            HOST,
            "--port",
            str(port),
            *uvicorn_flags(),
        ]
        env = {
            "HWC_DATABASE": world.path,
            "HWC_BASE_URL": f"http://{HOST}:{port}",
            "BENCH_SOAK_DIR": str(tmp),
            "BENCH_SOAK_SPEED": str(speed),
            **({"BENCH_SOAK_TRACEMALLOC": "1"} if trace else {}),
        }
        with Proc("server", argv, env, port, str(tmp)) as server:
            log(
                f"soak: {rate:g} sends/s for {minutes:g} min, clock x{speed:g}, a sample every "
                f"{interval:g} s, trends after {warmup / 60:.0f} min of warm-up"
            )
            job = {
                "host": HOST,
                "port": port,
                "server_pid": server.pid,
                "db_path": world.path,
                "rate": rate,
                "seconds": seconds,
                "interval": interval,
                "warmup": warmup,
                "concurrency": 50,
                "senders": world.senders,
                "schools": world.schools,
            }
            samples = _run_load(job, tmp)
            time.sleep(2)  # the final census is written
        statuses: Counter[str] = Counter()
        unready: Counter[str] = Counter()
        for s in samples:
            statuses.update({str(k): v for k, v in s["statuses"].items()})
            unready.update(s["unready"])
        result = {
            "minutes": minutes,
            "rate": rate,
            "speed": speed,
            "interval": interval,
            "warmup_s": warmup,
            "samples": samples,
            "trends": trends(samples, warmup),
            "statuses": dict(statuses),
            "unready": dict(unready),
            "census_growth": census_growth(tmp),
            "tracemalloc": tracemalloc_growth(tmp),
        }
    finally:
        fake.stop()
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _run_load(job: dict[str, Any], tmp: Path) -> list[dict[str, Any]]:
    job_path, out_path = tmp / "soak-job.pkl", tmp / "soak-out.pkl"
    job_path.write_bytes(pickle.dumps(job))
    gen = subprocess.Popen(
        [sys.executable, "-m", "bench.soakload", str(job_path), str(out_path)], cwd=ROOT
    )
    prioritize(gen.pid)
    try:
        if gen.wait() != 0:
            raise RuntimeError(f"soak load generator failed with exit status {gen.returncode}")
    finally:
        if gen.poll() is None:  # the soak was stopped: so is its load
            gen.terminate()
            gen.wait(timeout=10)
    samples: list[dict[str, Any]] = pickle.loads(out_path.read_bytes())
    return samples


def report(result: dict[str, Any]) -> str:
    lines = [trend_table(result)]
    if result["census_growth"]:
        lines.append(
            "objects that grew after warm-up (type: count): "
            + ", ".join(f"{name}: +{n}" for name, n in result["census_growth"])
        )
    for line in result["tracemalloc"]:
        lines.append(f"  {line}")
    return "\n".join(lines)
