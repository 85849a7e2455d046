"""Run the fake push service over real HTTP on loopback, in a background thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from server.fakepush import FakePushService, create_fake_push_app
from tests.support import base_url_of, free_socket, serving


@contextmanager
def running_fake_push() -> Iterator[tuple[str, FakePushService]]:
    """Yield (base_url, service) while the fake push service listens on a free port."""
    # Bind first so the origin (the VAPID audience) is known before the app is made.
    sock = free_socket()
    app = create_fake_push_app(base_url_of(sock))
    with serving(app, sock, lifespan="off") as base_url:
        yield base_url, app.state.service
