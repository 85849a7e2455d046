"""A bound on slow and idle clients: what one process holds for connections that send nothing.

uvicorn has no header timeout: a connection that sends nothing, or trickles header lines, is
held for ever (its keep-alive timeout starts only after a response), and so is a file descriptor
with it. `hwc serve` (and so the Procfile) runs uvicorn's own HTTP protocol with two bounds:

- a request's line and headers must all arrive within `header_timeout` seconds of the
  connection being made, or of the previous response; otherwise the connection is closed;
- a body still arriving then must be complete `body_timeout` seconds later, or the connection
  is closed (without it, a trickled body would hold a connection, and under the cap below
  enough of them would hold the whole server);
- at most `max_connections` connections are open at once; one more is answered 503 and closed.

Body size limits live in web.RequestGuard.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from server.web import JSON_ENCODER, MESSAGES

BUSY_BODY = JSON_ENCODER.encode({"error": "busy", "message": MESSAGES[503][1]})
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"retry-after: 5\r\nconnection: close\r\ncontent-length: "
    + str(len(BUSY_BODY)).encode()
    + b"\r\n\r\n"
    + BUSY_BODY
)


def bounded_protocol(
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    base: type[Any] = AutoHTTPProtocol,
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools or h11) with read timeouts and a connection cap."""

    # misc: subclassing Any; uvicorn picks httptools or h11 at run time, so `base` is untyped.
    class BoundedProtocol(base):  # type: ignore[misc]
        read_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            crowded = len(self.connections) >= max_connections
            super().connection_made(transport)
            if crowded:
                self.transport.write(BUSY)
                self.transport.close()
                return
            self.await_headers()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self.await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self.stop_read_timer()
            super().connection_lost(exc)

        def await_headers(self) -> None:
            self.stop_read_timer()
            self.read_timer = self.loop.call_later(header_timeout, self.headers_late)

        def stop_read_timer(self) -> None:
            if self.read_timer is not None:
                self.read_timer.cancel()
                self.read_timer = None

        def headers_late(self) -> None:
            # uvicorn makes a request's cycle once its headers are complete.
            cycle = self.cycle
            self.read_timer = None
            if cycle is None or cycle.response_complete:
                self.transport.close()
            elif cycle.more_body:
                self.read_timer = self.loop.call_later(body_timeout, self.body_late, cycle)

        def body_late(self, cycle: Any) -> None:
            self.read_timer = None
            if self.cycle is cycle and cycle.more_body and not cycle.response_complete:
                self.transport.close()

    return BoundedProtocol
