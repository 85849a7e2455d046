"""`python -m bench [--quick]`: the benchmark of DESIGN.md section 9.

Starts the real server (uvicorn, one worker, uvloop + httptools, file database in a temp dir),
a fake push service and a bare ceiling app as separate processes, drives them from a separate
load-generating process on loopback, prints one table and writes bench/results/latest.json.
Targets get PASS/MISS; a missed target never fails the run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import sqlite3
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import procs, report, soak
from bench.common import cpu_model
from bench.run import FULL, QUICK, Bench

RESULTS = Path(__file__).resolve().parent / "results"
LEGEND = """
rate = requests (or pushes) per second in the timed window; p50/p99 = latency seen by the load
generator (ms). srv CPU = server process CPU in % of one core during the window; cpu/req =
server CPU ms per request; gen CPU = the load generator's own share (it must stay well below
100% so it is not the bottleneck); other = every other process on the machine, in % of one
core (a shared machine: high values mean the figures are disturbed); runq = share of the time
the server was ready to run but waited for a CPU. A rate in brackets, and "adj", remove that
wait (n / (elapsed - runq)): an estimate for a quiet machine, for server-bound phases only.
vs ceiling = real rate as a share of the bare app's rate for the same requests on an
identical database. PASS/MISS always use the measured figures, never the estimates."""


def machine() -> dict[str, Any]:
    versions = {}
    for package in (
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "pywebpush",
        "aiohttp",
        "msgspec",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
    }


def _clean(value: Any) -> Any:
    """JSON without NaN (which is not JSON)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _autogroup_nice(nice: int) -> int | None:
    """Set this session's autogroup niceness; returns the previous one (None: not done)."""
    try:
        if Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1":
            return None
        path = Path("/proc/self/autogroup")
        previous = int(path.read_text().split()[-1])
        path.write_text(str(nice))
        return previous
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller counts: every figure in under five minutes"
    )
    parser.add_argument(
        "--out",
        default=str(RESULTS / "latest.json"),
        help="where to write the JSON figures (default: %(default)s)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        default=None,
        help="record py-spy profiles (raw collapsed stacks) of the server "
        "during the c=50 intake/open phases, fan-out and the largest "
        "growth level into DIR (adds some load)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="niceness of the bench's processes (servers, load generator, "
        "itself) and, when the kernel schedules by autogroup (then nice "
        "only counts inside a session), of this session's autogroup for "
        "the duration of the run, so other work on a shared machine "
        "disturbs the figures less; needs root for < 0 (default "
        "%(default)s; 0 leaves priorities alone)",
    )
    parser.add_argument(
        "--quiet-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="before each measured phase wait until other processes use less "
        "than half a core, spending at most this much in the whole run "
        "(default: 45 with --quick, 300 without)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="repeat the whole run this many times and judge every target on "
        "the median (the targets are set for the median of 3)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (databases, logs)")
    parser.add_argument(
        "--soak",
        type=float,
        default=None,
        metavar="MINUTES",
        help="instead of the benchmark: a soak of MINUTES under steady load; "
        "RSS, p99, WAL and descriptors sampled, with their trends",
    )
    parser.add_argument(
        "--soak-rate",
        type=float,
        default=50.0,
        metavar="SENDS",
        help="sends per second in the soak, each opened (default %(default)s)",
    )
    parser.add_argument(
        "--soak-speed",
        type=float,
        default=600.0,
        metavar="X",
        help="the soak server's clock runs this many times faster, so timers, "
        "expiry and purges happen (default %(default)s)",
    )
    parser.add_argument(
        "--soak-interval",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds between soak samples (default %(default)s)",
    )
    parser.add_argument(
        "--soak-tracemalloc",
        action="store_true",
        help="trace allocations in the soak server and diff them by line "
        "(slower, and inflates RSS)",
    )
    args = parser.parse_args(argv)
    if args.soak is not None:
        return _soak(args)

    # A terminated run still stops its processes and restores the autogroup (finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    restore_autogroup = None
    if args.nice:
        procs.NICE = args.nice
        procs.prioritize(os.getpid())
        restore_autogroup = _autogroup_nice(args.nice)
    info = machine()
    info["nice"] = args.nice
    info["autogroup_nice"] = restore_autogroup is not None
    info["loadavg_start"] = os.getloadavg()
    mode = "quick" if args.quick else "full"
    print(
        f"hwc bench ({mode}) on {info['nproc']} CPU(s), {info['cpu']}, Python "
        f"{info['python']}, SQLite {info['sqlite']}; load average "
        f"{info['loadavg_start'][0]:.1f}; nice {args.nice}",
        flush=True,
    )
    budget = args.quiet_budget if args.quiet_budget is not None else (45 if args.quick else 300)
    documents = []
    try:
        for number in range(1, args.runs + 1):
            if args.runs > 1:
                print(f"\nrun {number} of {args.runs}", flush=True)
            documents.append(_one_run(args, info, budget, mode))
    finally:
        if restore_autogroup is not None:
            _autogroup_nice(restore_autogroup)
    document = documents[-1]
    if args.runs > 1:
        merged = report.median_of_runs([d["targets"] for d in documents])
        print(f"\nmedian of {args.runs} runs")
        print(report.median_table(merged))
        print(f"\n{_verdicts(merged)}")
        document = {**document, "targets": merged, "runs": documents}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_clean(document), indent=2, default=str) + "\n")
    print(f"figures written to {out}")
    return 0


def _one_run(
    args: argparse.Namespace, info: dict[str, Any], budget: float, mode: str
) -> dict[str, Any]:
    bench = Bench(
        QUICK if args.quick else FULL,
        args.quick,
        args.profile,
        log=lambda text: print(f"  [{time.strftime('%H:%M:%S')}] {text}", flush=True),
        quiet_budget=budget,
    )
    try:
        results = bench.run()
    finally:
        bench.cleanup(args.keep)
    info = {**info, "loadavg_end": os.getloadavg()}
    rows, targets = report.rows(results, args.quick)
    text = report.table(rows)
    print()
    print(text)
    print(LEGEND)
    print(f"\n{_verdicts(targets)}; run took {results['duration_s']:.0f} s")
    return {
        "mode": mode,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "targets": targets,
        "table": text,
        "figures": results,
    }


def _soak(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.nice:
        procs.NICE = args.nice
        procs.prioritize(os.getpid())
    info = {**machine(), "loadavg_start": os.getloadavg()}
    print(
        f"hwc soak on {info['nproc']} CPU(s), {info['cpu']}; load average "
        f"{info['loadavg_start'][0]:.1f}",
        flush=True,
    )
    result = soak.run_soak(
        args.soak,
        args.soak_rate,
        args.soak_speed,
        args.soak_interval,
        args.soak_tracemalloc,
        args.keep,
        log=lambda text: print(f"  [{time.strftime('%H:%M:%S')}] {text}", flush=True),
    )
    info["loadavg_end"] = os.getloadavg()
    print()
    print(soak.report(result))
    out = (
        Path(args.out).with_name("soak.json")
        if args.out == str(RESULTS / "latest.json")
        else Path(args.out)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_clean({"machine": info, **result}), indent=2, default=str) + "\n")
    print(f"figures written to {out}")
    return 0


def _verdicts(targets: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{sum(t['result'] == v for t in targets)} {v}" for v in ("PASS", "MISS", "n/a")
    )


if __name__ == "__main__":
    sys.exit(main())
