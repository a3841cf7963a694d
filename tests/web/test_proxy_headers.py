"""``ecomops serve --forwarded-allow-ips``: forwarded headers count only from the proxies named there.

From a trusted proxy, X-Forwarded-For becomes the client IP (rate-limit buckets, audit records) and
X-Forwarded-Proto: https turns on HSTS; from anyone else both headers are ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine

from ecomops.audit import service as audit
from ecomops.platform.context import TenantInfo
from ecomops.tenancy import service as tenancy
from tests.conftest import start_server
from tests.timing import DEADLINE


@contextmanager
def serve(data_dir: Path, *args: str) -> Iterator[str]:
    server = start_server(data_dir, args=args)
    try:
        yield server.url
    finally:
        server.stop()


def _dead_letter_read(url: str, key: str, forwarded: dict[str, str]) -> httpx.Response:
    return httpx.get(
        url + "/api/v1/t/acme/ingest/dead-letters",
        headers={"Authorization": f"Bearer {key}", **forwarded},
        timeout=DEADLINE,
    )


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def test_default_trusts_the_local_proxy(data_dir: Path, engine: Engine, tenant: TenantInfo) -> None:
    _, key = tenancy.create_api_key(engine, "acme", "admin")
    with serve(data_dir) as url:
        answer = _dead_letter_read(url, key, FORWARDED)
        assert answer.status_code == 200
        assert answer.headers["strict-transport-security"].startswith("max-age=")
    record = audit.export(engine, tenant.id, action="ingest.dead_letter.read")[-1]
    assert record["ip"] == "203.0.113.7"
    assert record["request_id"] == answer.headers["x-request-id"]


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    data_dir: Path, engine: Engine, tenant: TenantInfo
) -> None:
    _, key = tenancy.create_api_key(engine, "acme", "admin")
    with serve(data_dir, "--forwarded-allow-ips", "10.9.9.9") as url:
        answer = _dead_letter_read(url, key, FORWARDED)
        assert answer.status_code == 200
        assert "strict-transport-security" not in answer.headers
    record = audit.export(engine, tenant.id, action="ingest.dead_letter.read")[-1]
    assert record["ip"] == "127.0.0.1"
