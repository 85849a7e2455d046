"""Processes the bench starts: the real server, the bare ceiling app, the fake push service,
and the load generator. Each is stopped by its own pid, never by name."""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import HOST, free_port, proc_status_kb

ROOT = Path(__file__).resolve().parent.parent
# Niceness for every process the bench starts (and itself), set by `--nice`; None: unchanged.
NICE: int | None = None


def prioritize(pid: int) -> None:
    """Give a bench process the configured niceness, so other work on a shared machine
    disturbs the figures less. Silently unchanged when not permitted."""
    if NICE is None:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, NICE)
    except OSError:
        pass


def uvicorn_flags() -> list[str]:
    """One worker, no access log, uvloop and httptools when installed (uvicorn[standard])."""
    flags = ["--workers", "1", "--no-access-log"]
    if importlib.util.find_spec("uvloop"):
        flags += ["--loop", "uvloop"]
    if importlib.util.find_spec("httptools"):
        flags += ["--http", "httptools"]
    return flags


class Proc:
    """A child process listening on a loopback port."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        port: int,
        log_dir: str,
        ready_path: str = "/healthz",
        stderr_apart: bool = False,
    ) -> None:
        self.name, self.argv, self.env, self.port = name, argv, env, port
        self.ready_path = ready_path
        self.log_path = os.path.join(log_dir, f"{name}-{port}.log")
        # stdout only, with stderr in a file of its own (tests of what goes to which stream)
        self.stderr_path = self.log_path + ".stderr" if stderr_apart else None
        self.popen: subprocess.Popen[bytes] | None = None
        self.peak_rss_kb: int | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> Proc:
        with contextlib.ExitStack() as files:  # the child keeps its own copies of the fds
            log = files.enter_context(open(self.log_path, "ab"))
            errors = (
                files.enter_context(open(self.stderr_path, "ab"))
                if self.stderr_path
                else subprocess.STDOUT
            )
            self.popen = subprocess.Popen(
                self.argv, env={**os.environ, **self.env}, cwd=ROOT, stdout=log, stderr=errors
            )
        prioritize(self.popen.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited at start; see {self.log_path}:\n"
                    + Path(self.log_path).read_text()[-3000:]
                )
            try:
                status, _ = get(self.port, self.ready_path)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready; see {self.log_path}")

    def rss_peak_kb(self) -> int | None:
        value = proc_status_kb(self.pid, "VmHWM")
        if value is not None:
            self.peak_rss_kb = value
        return self.peak_rss_kb

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.rss_peak_kb()
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)

    def __enter__(self) -> Proc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def real_server(database: str, log_dir: str) -> Proc:
    """The app as the Procfile runs it, on a file database; deployment settings otherwise."""
    port = free_port()
    # `hwc serve`: uvicorn with uvloop and httptools (when installed), one process, no access
    # log, and the header timeout and connection cap of server/connections.py.
    argv = [sys.executable, "-m", "server.cli", "serve", "--host", HOST, "--port", str(port)]
    env = {"HWC_DATABASE": database, "HWC_BASE_URL": f"http://{HOST}:{port}"}
    return Proc("server", argv, env, port, log_dir)


def bare_server(database: str, log_dir: str) -> Proc:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bench.bare:create_app",
        "--host",
        HOST,
        "--port",
        str(port),
        *uvicorn_flags(),
    ]
    return Proc("bare", argv, {"BENCH_BARE_DATABASE": database}, port, log_dir)


def fake_push(log_dir: str) -> Proc:
    port = free_port()
    origin = f"http://{HOST}:{port}"
    code = (
        "from server.fakepush import run_fake_push; "
        f"run_fake_push(host={HOST!r}, port={port}, origin={origin!r})"
    )
    return Proc("fakepush", [sys.executable, "-c", code], {}, port, log_dir, ready_path="/stats")


def get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_full(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def post_json(port: int, path: str, body: Any) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run_loadgen(job: dict[str, Any], work_dir: str) -> dict[str, Any]:
    """Run one job in a separate load-generating process and return its results."""
    stamp = f"{time.monotonic_ns()}"
    job_path = os.path.join(work_dir, f"job-{stamp}.pkl")
    out_path = os.path.join(work_dir, f"out-{stamp}.pkl")
    with open(job_path, "wb") as f:
        pickle.dump(job, f)
    gen = subprocess.Popen([sys.executable, "-m", "bench.loadgen", job_path, out_path], cwd=ROOT)
    prioritize(gen.pid)
    if gen.wait(timeout=job.get("timeout", 300) + 30) != 0:
        raise RuntimeError(f"load generator failed with exit status {gen.returncode}")
    with open(out_path, "rb") as f:
        result: dict[str, Any] = pickle.load(f)
    os.remove(job_path)
    os.remove(out_path)
    return result
