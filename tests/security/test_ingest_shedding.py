"""Ingest sheds load before it saturates: beyond a cap on bodies in flight, or above a memory watermark,
``/v1/*`` answers 429 with Retry-After before reading the body, and ``/healthz`` still answers.

Measured before (issue 10): under 400 connections posting 400-event batches the server never answered
429 or 503, ``/healthz`` took 2–3 s and the process grew from 973 to 1,616 MB and stayed there. On that
code every request below is read and validated (200), however many are in flight and whatever the RSS.
"""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import InProcServer
from tests.timing import wait_until

CAP = 2


def batch(n: int = 3) -> bytes:
    events = [
        {"type": "track", "event": "Product Viewed", "userId": f"u{i}", "messageId": str(uuid.uuid4())}
        for i in range(n)
    ]
    return json.dumps({"batch": events}).encode()


def metric(server: InProcServer, name: str, **labels: str) -> float | None:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


class SlowRequest:
    """A /v1/batch whose headers and first bytes are sent, the rest of the body held back (a slow client,
    or one of many connections the server is still reading)."""

    def __init__(self, server: InProcServer) -> None:
        self.body = batch()
        port = int(server.url.rsplit(":", 1)[1])
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        auth = base64.b64encode(f"{server.write_key}:".encode()).decode()
        head = (
            f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(self.body)}\r\n\r\n"
        ).encode()
        self.sock.sendall(head + self.body[:10])

    def finish(self) -> tuple[int, bytes]:
        """Send the rest of the body; the status and the raw answer."""
        self.sock.sendall(self.body[10:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        self.sock.close()
        return int(answer.split(b" ", 2)[1]), answer


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ECOMOPS_INGEST_MAX_IN_FLIGHT", str(CAP))
    yield


@pytest.mark.usefixtures("small_cap")
def test_bodies_beyond_the_in_flight_cap_are_refused_before_reading_and_healthz_answers(
    server: InProcServer,
) -> None:
    slow = [SlowRequest(server) for _ in range(CAP)]
    try:
        wait_until(
            lambda: metric(server, "ecomops_ingest_requests_in_flight") == CAP,
            f"{CAP} bodies in flight",
        )
        with server.client() as c:
            refused = c.post("/v1/batch", content=batch(), headers={"Content-Type": "application/json"})
            assert refused.status_code == 429, refused.text
            assert refused.headers["Retry-After"] == "1"
            error = refused.json()["error"]
            assert error["code"] == "overloaded"
            assert error["details"]["reason"] == "in_flight" and error["details"]["max_in_flight"] == CAP
            # Single-event routes share the cap; the probe does not.
            track = c.post("/v1/track", json={"event": "E", "userId": "u", "messageId": "m"})
            assert track.status_code == 429
            assert c.get("/healthz").status_code == 200
        assert metric(server, "ecomops_ingest_shed_requests_total", reason="in_flight") == 2
    finally:
        answers = [request.finish() for request in slow]
    # The requests that held the slots are served in full; then the slots are free again.
    assert [status for status, _ in answers] == [200] * CAP, answers
    with server.client() as c:
        assert c.post("/v1/batch", content=batch()).json()["accepted"] == 3
    assert metric(server, "ecomops_ingest_requests_in_flight") == 0
    assert int(server.query("SELECT count(*) FROM events")[0][0]) == 3 * (CAP + 1)


@pytest.fixture
def low_watermark(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ECOMOPS_INGEST_MEMORY_WATERMARK_MB", "1")  # any process is above 1 MB
    yield


@pytest.mark.usefixtures("low_watermark")
def test_above_the_memory_watermark_ingest_answers_429_and_healthz_200(server: InProcServer) -> None:
    with server.client() as c:
        r = c.post("/v1/batch", content=batch())
        assert r.status_code == 429, r.text
        assert r.headers["Retry-After"] == "2"
        assert r.json()["error"]["code"] == "overloaded"
        assert r.json()["error"]["details"]["reason"] == "memory"
        assert c.get("/healthz").status_code == 200
    assert metric(server, "ecomops_ingest_shed_requests_total", reason="memory") == 1
    assert metric(server, "ecomops_ingest_memory_watermark_bytes") == 1024 * 1024
    assert int(server.query("SELECT count(*) FROM events")[0][0]) == 0


@pytest.fixture
def short_body_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ECOMOPS_INGEST_BODY_TIMEOUT_SECONDS", "0.5")
    yield


@pytest.mark.usefixtures("short_body_timeout")
def test_a_client_trickling_its_body_is_answered_408_and_frees_its_slot(server: InProcServer) -> None:
    """Before: a client that sent its headers and a few bytes held a body slot for as long as it liked."""
    slow = SlowRequest(server)  # headers and 10 bytes of the body, then nothing
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = slow.sock.recv(65536)  # the server answers on its own, after its body timeout
        if not chunk:
            break
        answer += chunk
    slow.sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"408", answer[:300]
    assert b"connection: close" in head.lower()
    assert json.loads(body)["error"]["code"] == "request_timeout"
    assert metric(server, "ecomops_ingest_requests_in_flight") == 0
    with server.client() as c:
        assert c.post("/v1/batch", content=batch()).json()["accepted"] == 3
