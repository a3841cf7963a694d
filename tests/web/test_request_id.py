"""Every response echoes X-Request-ID, and the audit record of that request carries the same id."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import Engine

from ecomops.app import create_app
from ecomops.audit import service as audit
from ecomops.platform.settings import Settings
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE


@pytest.mark.parametrize("path", ["/healthz", "/", "/no/such/page", "/api/v1/t/acme/audit"])
def test_every_response_gets_a_fresh_id(server: InProcServer, path: str) -> None:
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        first, second = c.get(path), c.get(path)
    assert first.headers["x-request-id"].startswith("req_")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_a_valid_client_id_is_echoed_and_an_invalid_one_replaced(server: InProcServer) -> None:
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        assert c.get("/healthz", headers={"X-Request-ID": "trace-42.a:b_c"}).headers["x-request-id"] == (
            "trace-42.a:b_c"
        )
        for bad in ("has space", "x" * 101, "semi;colon", ""):
            echoed = c.get("/healthz", headers={"X-Request-ID": bad}).headers["x-request-id"]
            assert echoed.startswith("req_") and echoed != bad
        answers = c.get("/healthz", headers={"X-Request-ID": "dup"}).headers.get_list("x-request-id")
        assert answers == ["dup"]  # exactly one header


def test_ingest_and_errors_carry_the_id(server: InProcServer) -> None:
    with server.client() as c:
        ok = c.post("/v1/track", json={"event": "A", "userId": "u", "messageId": "m1"})
        assert ok.status_code == 200 and ok.headers["x-request-id"].startswith("req_")
        bad = c.post("/v1/track", content=b"{not json", headers={"X-Request-ID": "ingest-bad-1"})
        assert bad.status_code == 400 and bad.headers["x-request-id"] == "ingest-bad-1"


def test_audit_record_uses_the_echoed_id(server: InProcServer, engine: Engine) -> None:
    _, key = tenancy.create_api_key(engine, "acme", "operator")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE) as c:
        generated = c.get("/api/v1/t/acme/ingest/dead-letters")
        chosen = c.get("/api/v1/t/acme/ingest/dead-letters", headers={"X-Request-ID": "client-chosen-7"})
        invalid = c.get("/api/v1/t/acme/ingest/dead-letters", headers={"X-Request-ID": "not valid!"})
    assert generated.status_code == chosen.status_code == invalid.status_code == 200
    reads = audit.export(engine, server.tenant.id, action="ingest.dead_letter.read")
    assert [r["request_id"] for r in reads] == [
        generated.headers["x-request-id"],
        "client-chosen-7",
        invalid.headers["x-request-id"],
    ]
    assert invalid.headers["x-request-id"].startswith("req_")


def test_unexpected_errors_echo_the_id_too(settings: Settings) -> None:
    """A 500 is sent by Starlette's outermost middleware, outside RequestId; it still carries the id."""
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unexpected")

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.get("/boom", headers={"X-Request-ID": "boom-1"})

    answer = asyncio.run(call())
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
    assert answer.headers["x-request-id"] == "boom-1"
