"""Push fan-out: the server's outbox worker against pywebpush's plain webpush(), one by one.

The fake push service runs in its own process with VAPID verification and decryption on.
For the worker, N outbox rows (one per subscribed device) are seeded not yet due; once the
server is up, the bench makes them due in the database and wakes the worker with one real
POST /api/signals to a school with two subscribed contacts (queueing their pushes wakes the
worker). The rate is N + 2 over the time from that wake to the fake service's last
`received_at`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from pywebpush import webpush

from bench.common import proc_cpu_seconds
from bench.procs import Proc, get, post_json, real_server
from bench.seed import intake_body, seed
from server import db as database
from server.envelope import new_signal_id
from server.pushworker import payload, topic


def subscriptions(fake: Proc, n: int) -> list[dict]:
    subs = []
    for _ in range(n):
        status, body = post_json(fake.port, "/subscriptions", {})
        assert status == 201, body
        subs.append(json.loads(body))
    return subs


def _stats(fake: Proc) -> dict[str, Any]:
    return json.loads(get(fake.port, "/stats")[1])


def _messages(fake: Proc) -> list[dict[str, Any]]:
    return json.loads(get(fake.port, "/messages")[1])


def _reset(fake: Proc, delay: float) -> None:
    post_json(fake.port, "/reset", {})
    post_json(fake.port, "/delay", {"seconds": delay})


def worker_rate(
    fake: Proc,
    subs: list[dict],
    delay: float,
    tmp: str,
    tag: str,
    timeout: float = 120.0,
    profile: Callable[[int], AbstractContextManager[None]] | None = None,
) -> dict[str, Any]:
    n = len(subs)
    path = f"{tmp}/fanout-{tag}.db"
    # The wake is a real signal to a school whose two contacts are subscribed: its pushes are
    # queued, which wakes the worker (a send that queues nothing wakes nothing).
    world = seed(
        path, schools=1, senders=1, fanout_subs=subs, push_school_subs=subscriptions(fake, 2)
    )
    assert world.push_school is not None
    # Not due yet: the worker finds nothing at start and sleeps until woken.
    db = database.connect(path)
    db.execute("UPDATE outbox SET due_at = due_at + 86400 WHERE state = 'pending'")
    db.conn.close()
    _reset(fake, delay)
    server = real_server(path, tmp).start()
    spy = profile(server.pid) if profile else contextlib.nullcontext()
    try:
        spy.__enter__()
        sender = world.senders[0]
        # A first signal warms the server up (the first send imports the holiday calendars,
        # a few hundred ms once per process); the timed wake is the second one.
        _post_signal(server.port, sender.cookie, intake_body(world.push_school, new_signal_id()))
        time.sleep(0.5)
        _reset(fake, delay)  # count from the wake on: the warm-up's two pushes have arrived
        body = intake_body(world.push_school, new_signal_id())
        cpu = {"server": proc_cpu_seconds(server.pid), "fake": proc_cpu_seconds(fake.pid)}
        db = database.connect(path)
        now = time.time()
        db.execute("UPDATE outbox SET due_at = ? WHERE state = 'pending'", [now])
        db.conn.close()
        woken = time.time()
        status = _post_signal(server.port, sender.cookie, body)
        deadline = time.monotonic() + timeout
        while _stats(fake)["messages"] < n + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        done = time.time()
        cpu = {
            k: proc_cpu_seconds(p) - cpu[k] for k, p in (("server", server.pid), ("fake", fake.pid))
        }
        messages = _messages(fake)
        attempts = json.loads(get(fake.port, "/attempts")[1])
        server.rss_peak_kb()
    finally:
        spy.__exit__(None, None, None)
        server.stop()
    received = sorted(m["received_at"] for m in messages)
    last = received[-1] if received else done
    elapsed = max(last - woken, 1e-9)
    return {  # n + 2: the wake signal's own two pushes are delivered in the same burst
        "n": n + 2,
        "delivered": len(messages),
        "send_status": status,
        "elapsed": elapsed,
        "rate": len(messages) / elapsed,
        "refused": sum(1 for a in attempts if a["status"] != 201),
        "cpu_server": cpu["server"] / max(done - woken, 1e-9),
        "cpu_fake": cpu["fake"] / max(done - woken, 1e-9),
        "peak_rss_kb": server.peak_rss_kb,
    }


def _post_signal(port: int, cookie: str, body: bytes) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/api/signals",
            body=body,
            headers={"Cookie": cookie, "X-HWC": "1", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def sequential_baseline(
    fake: Proc,
    subs: list[dict],
    delay: float,
    vapid_private_key: str,
    base_url: str = "http://127.0.0.1:8000",
) -> dict[str, Any]:
    """The same N pushes with pywebpush's plain webpush(), one after another."""
    _reset(fake, delay)
    failures = 0
    cpu_fake = proc_cpu_seconds(fake.pid)
    start = time.perf_counter()
    for n, sub in enumerate(subs):
        signal_id = new_signal_id()
        try:
            webpush(
                sub,
                payload(base_url, "new_signal", signal_id),
                vapid_private_key=vapid_private_key,
                vapid_claims={"sub": "mailto:beheer@example.org"},
                ttl=86400,
                timeout=10,
                headers={"Urgency": "high", "Topic": topic(b"bench", str(n), signal_id)},
            )
        except Exception:  # counted: a refused push is not a delivered one
            failures += 1
    elapsed = time.perf_counter() - start
    delivered = _stats(fake)["messages"]
    return {
        "n": len(subs),
        "delivered": delivered,
        "failures": failures,
        "elapsed": elapsed,
        "rate": delivered / elapsed,
        "cpu_fake": (proc_cpu_seconds(fake.pid) - cpu_fake) / elapsed,
    }
