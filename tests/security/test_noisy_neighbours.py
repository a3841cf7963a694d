"""One shop's slow queries cannot take the server from the others (issue 10, "Weak: noisy neighbours").

Before: 45 concurrent 30 s queries of one tenant filled the shared worker threads and stalled another
tenant's API for 25.6 s. Heavy reads now run in their own pool, a few per shop at a time; a shop over its
share is answered 429 at once. Over real HTTP: shop A fires many slow queries together while shop B runs
its own query and an ordinary API call.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import Engine

from ecomops.query import service
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE

SLOW = "SELECT count(*) FROM range(100000000000) a"


def _api(server: InProcServer, slug: str, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/v1/t/{slug}", headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE
    )


def test_a_shop_over_its_share_is_refused_and_the_others_keep_theirs(
    server: InProcServer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "TIMEOUT_SECONDS", 3.0)  # the slow queries end by themselves
    tenancy.create_tenant(engine, "other")
    _, key_a = tenancy.create_api_key(engine, "acme", "analyst", "a")
    _, key_b = tenancy.create_api_key(engine, "other", "analyst", "b")
    per_tenant = server.state.settings.heavy_per_tenant
    answers: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(per_tenant + 6)

    def slow() -> None:
        with _api(server, "acme", key_a) as api:
            barrier.wait()
            status = api.post("/query", json={"sql": SLOW}).status_code
        with lock:
            answers.append(status)

    threads = [threading.Thread(target=slow) for _ in range(per_tenant + 6)]
    for t in threads:
        t.start()
    # Wait until shop A holds its share of the pool (refusals come back at once).
    deadline = time.monotonic() + DEADLINE
    while len(answers) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    refused = list(answers)
    with _api(server, "other", key_b) as api:
        started = time.monotonic()
        quick = api.post("/query", json={"sql": "SELECT 42 AS answer"})
        sources = api.get("/sources")
        took = time.monotonic() - started
    for t in threads:
        t.join(DEADLINE)
    assert refused == [429] * 6, refused
    assert sorted(answers) == [400] * per_tenant + [429] * 6  # A's own share ran (to its time limit)
    assert quick.status_code == 200 and quick.json()["rows"] == [[42]]
    assert sources.status_code in (200, 403)
    assert took < 2.5, f"shop B waited {took:.1f} s behind shop A"


def test_the_refusal_says_why_and_when_to_retry(server: InProcServer, engine: Engine) -> None:
    heavy = server.state.services
    _, key = tenancy.create_api_key(engine, "acme", "analyst", "a")
    with _api(server, "acme", key) as api:
        assert api.post("/query", json={"sql": "SELECT 1"}).status_code == 200
    work = heavy["heavy"]
    work._running[server.tenant.id] = work.per_tenant  # the shop's share is taken
    try:
        with _api(server, "acme", key) as api:
            r = api.post("/query", json={"sql": "SELECT 1"})
    finally:
        del work._running[server.tenant.id]
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert r.json()["error"]["code"] == "too_many_concurrent"
    assert r.json()["error"]["details"] == {"running": work.per_tenant, "limit": work.per_tenant}
