"""Slow and half-open connections against a real ``ecomops serve`` (issue 10).

Before: uvicorn armed no timer on a new connection and cancelled its keep-alive timer on the first
byte, so a client sending its request line a byte at a time (slowloris) or never finishing its headers
held the connection forever, and headers were not bounded (13 MB of one header were buffered). Now a
request head must arrive whole within ``ECOMOPS_HTTP_HEAD_TIMEOUT_SECONDS`` (shortened here) and under
``ECOMOPS_HTTP_MAX_HEAD_BYTES``, and idle kept-alive connections close after
``ECOMOPS_HTTP_KEEP_ALIVE_SECONDS``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from ecomops.platform.context import TenantInfo
from tests.conftest import LiveServer, start_server
from tests.timing import DEADLINE

HEAD_TIMEOUT = 0.5
#: Longest a test waits for the server to close a connection: well past the bound, far below "forever".
PATIENCE = 3.0


@pytest.fixture
def bounded_server(data_dir: Path, tenant: TenantInfo) -> Iterator[LiveServer]:
    server = start_server(
        data_dir,
        extra_env={
            "ECOMOPS_HTTP_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
            "ECOMOPS_HTTP_KEEP_ALIVE_SECONDS": "1",
        },
    )
    yield server
    server.stop()


def _connect(server: LiveServer) -> socket.socket:
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=DEADLINE)
    sock.settimeout(0.1)
    return sock


def _closed_by_server(sock: socket.socket, trickle: bytes = b"") -> tuple[bool, float, bytes]:
    """Send ``trickle`` a byte every 0.1 s until the server closes the connection or PATIENCE passes;
    whether it closed, after how long, and what it answered."""
    started = time.monotonic()
    answer = b""
    position = 0
    while time.monotonic() - started < PATIENCE:
        try:
            if position < len(trickle):
                sock.sendall(trickle[position : position + 1])
                position += 1
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True, time.monotonic() - started, answer
        if not chunk:
            return True, time.monotonic() - started, answer
        answer += chunk
    return False, time.monotonic() - started, answer


def test_a_client_sending_its_headers_slowly_is_cut_off(bounded_server: LiveServer) -> None:
    with _connect(bounded_server) as silent, _connect(bounded_server) as slow:
        # Opens a connection and sends nothing.
        closed, after, answer = _closed_by_server(silent)
        assert closed and answer == b"", (after, answer)
        assert HEAD_TIMEOUT * 0.8 <= after < PATIENCE
        # Sends a request line and headers a byte every 0.1 s: each byte would have reset a per-read timer.
        closed, after, answer = _closed_by_server(
            slow, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        )
        assert closed and answer == b"", (after, answer)
        assert after < PATIENCE

    # A kept-alive connection left idle after its answer.
    with _connect(bounded_server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        closed, after, answer = _closed_by_server(sock)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert closed and 0.5 < after < PATIENCE, after  # keep-alive 1 s (uvicorn's timer)


def test_headers_are_bounded_and_ordinary_requests_unaffected(bounded_server: LiveServer) -> None:
    with _connect(bounded_server) as sock:
        sock.settimeout(DEADLINE)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    with httpx.Client(base_url=bounded_server.url, timeout=DEADLINE) as client:
        for _ in range(3):  # one kept-alive connection, several requests
            assert client.get("/healthz").status_code == 200
        big_but_fine = {"X-Fine": "a" * 16 * 1024}
        assert client.get("/healthz", headers=big_but_fine).status_code == 200
