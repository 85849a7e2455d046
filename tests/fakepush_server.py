"""Run the fake push service over real HTTP on loopback, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from server.fakepush import FakePushService, create_fake_push_app


@contextmanager
def running_fake_push() -> Iterator[tuple[str, FakePushService]]:
    """Yield (base_url, service) while the fake push service listens on a free port."""
    # Bind first so the port is known (for the VAPID aud) and nobody can take it meanwhile.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_fake_push_app(base_url)
    config = uvicorn.Config(app, lifespan="off", ws="none", access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):  # up to 5 s; usually a few ms
            if server.started or not thread.is_alive():
                break
            time.sleep(0.01)
        if not server.started:
            raise RuntimeError("fake push service did not start")
        yield base_url, app.state.service
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
