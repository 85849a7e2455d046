"""Slow and idle clients, against the real `hwc serve` process (as the Procfile runs it) on
loopback with raw sockets: a connection that trickles header lines or its body is dropped,
half-open connections are closed after the header timeout, and no more than the cap are held
at once."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from server.settings import Settings
from tests.support import base_url_of, free_socket, hwc_serve

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
MAX_CONNECTIONS = 40
HALF_OPEN = 300


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with hwc_serve(
        tmp_path_factory.mktemp("slow"),
        HWC_HEADER_TIMEOUT_SECONDS="1",
        HWC_BODY_TIMEOUT_SECONDS="1",
        HWC_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    ) as base:
        yield base


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def read_until_closed(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """What the server sends until it closes the connection, waiting at most `seconds`."""
    received = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if select.select([sock], [], [], left)[0]:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return True, received
            if not chunk:
                return True, received
            received += chunk
    return False, received


def test_trickled_header_lines_are_dropped(url: str) -> None:
    with connect(url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        closed = False
        while not closed and time.monotonic() - started < 6 * HEADER_TIMEOUT:
            try:
                sock.sendall(b"X-Slow: 1\r\n")  # a header line every 0.2 s, never the end
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            closed, answer = read_until_closed(sock, 0.2)
            assert answer == b""
        elapsed = time.monotonic() - started
    assert closed, f"a trickling client was still held after {elapsed:.1f} s"
    assert HEADER_TIMEOUT * 0.8 <= elapsed <= HEADER_TIMEOUT + 2.5, elapsed


def test_a_trickled_body_is_dropped(url: str) -> None:
    with connect(url) as sock:
        sock.sendall(
            b"POST /api/enrol HTTP/1.1\r\nHost: 127.0.0.1\r\nX-HWC: 1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"
        )
        started = time.monotonic()
        closed = False
        while not closed and time.monotonic() - started < 8 * (HEADER_TIMEOUT + BODY_TIMEOUT):
            try:
                sock.sendall(b" ")  # a byte every 0.2 s of a body that never ends
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            closed, _ = read_until_closed(sock, 0.2)
        elapsed = time.monotonic() - started
    assert closed, f"a trickled body was still held after {elapsed:.1f} s"
    assert elapsed <= HEADER_TIMEOUT + BODY_TIMEOUT + 2.5, elapsed


def test_half_open_connections_are_not_all_held(url: str) -> None:
    sockets = [connect(url) for _ in range(HALF_OPEN)]
    started = time.monotonic()
    answers = []
    try:
        for sock in sockets:
            left = max(0.1, HEADER_TIMEOUT + 4 - (time.monotonic() - started))
            closed, answer = read_until_closed(sock, left)
            assert closed, "a half-open connection was held past the header timeout"
            answers.append(answer)
    finally:
        for sock in sockets:
            sock.close()
    # Past the cap a connection is answered 503 and closed; the ones held are closed without
    # an answer once the header timeout has passed.
    busy = [a for a in answers if a]
    for answer in busy:
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:80]
        assert b'"error":"busy"' in answer and b"retry-after: 5" in answer
    assert len(busy) >= HALF_OPEN - MAX_CONNECTIONS, len(busy)
    assert httpx.get(url + "/healthz", timeout=5).status_code == 200


def test_a_prompt_client_is_served_also_in_pieces_and_on_keep_alive(url: str) -> None:
    with connect(url) as sock:
        for request in range(2):
            for piece in (b"GET /healthz HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
                sock.sendall(piece)
                time.sleep(HEADER_TIMEOUT / 4)  # the whole head well within the timeout
            head = b""
            while b'{"status":"ok"}' not in head:
                chunk = sock.recv(65536)
                assert chunk, f"request {request} was not answered"
                head += chunk
            assert head.startswith(b"HTTP/1.1 200 "), head[:80]
        # Idle after a response: closed within the header timeout, not held for ever.
        closed, answer = read_until_closed(sock, HEADER_TIMEOUT + 2.5)
        assert closed and answer == b""


def test_the_h11_protocol_gets_the_same_bounds() -> None:
    """Without httptools uvicorn parses with h11; the bounds hold there too (in-process)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from server.app import create_app
    from server.connections import bounded_protocol

    sock = free_socket()
    config = uvicorn.Config(
        create_app(Settings(database=":memory:", run_workers=False)),
        http=bounded_protocol(HEADER_TIMEOUT, BODY_TIMEOUT, 3, base=H11Protocol),
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        test_trickled_header_lines_are_dropped(base_url_of(sock))
        test_a_trickled_body_is_dropped(base_url_of(sock))
        held = [connect(base_url_of(sock)) for _ in range(3)]
        with connect(base_url_of(sock)) as extra:
            assert read_until_closed(extra, 2)[1].startswith(b"HTTP/1.1 503 ")
        for idle in held:
            assert read_until_closed(idle, HEADER_TIMEOUT + 2.5) == (True, b"")
            idle.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
