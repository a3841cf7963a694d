"""Token-bucket rate limits: bursts, 429 with an exact Retry-After, refill, separate buckets, Redis.

The middleware is tested around a tiny ASGI app with an injected clock (time moves, nothing sleeps),
then on the real server to show it is installed in front of every route with the error shape and
headers the rest of the API uses.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.web.ratelimit import (
    Buckets,
    Charge,
    Limit,
    MemoryBuckets,
    RateLimit,
    RateLimiter,
    RedisBuckets,
)
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE

REDIS_URL = "redis://127.0.0.1:6379/15"


def _need(reason: str) -> None:
    """Skip on a laptop without Redis; CI starts Redis (scripts/services.sh), so there it fails."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: required in CI")
    pytest.skip(reason)


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers 200 with the request body, so tests can see that a scanned body is passed on intact."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def limits(**overrides: float) -> Settings:
    values: dict[str, float] = {
        "ratelimit_ip_rate": 1000,
        "ratelimit_ip_burst": 1000,
        "ratelimit_api_key_rate": 1,
        "ratelimit_api_key_burst": 3,
        "ratelimit_write_key_rate": 0.5,
        "ratelimit_write_key_burst": 2,
        "ratelimit_auth_rate": 1 / 60,
        "ratelimit_auth_burst": 2,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def client(buckets: Buckets, settings: Settings, ip: str = "10.0.0.1") -> httpx.AsyncClient:
    limiter = RateLimiter(settings, buckets=buckets)
    transport = httpx.ASGITransport(app=RateLimit(echo_app, limiter), client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "redis"])
def buckets(request: pytest.FixtureRequest) -> Iterator[tuple[Buckets, FakeClock]]:
    """The same tests against process memory and against the real Redis (shared by processes)."""
    clock = FakeClock(1_700_000_000.0)
    if request.param == "memory":
        yield MemoryBuckets(clock=clock), clock
        return
    if importlib.util.find_spec("redis") is None:
        _need("redis-py is not installed")
    redis_buckets = RedisBuckets(REDIS_URL, prefix=f"ecomops-test:{uuid.uuid4().hex}:{{rl}}:", clock=clock)
    if not asyncio.run(_reachable(redis_buckets)):
        _need("Redis is not reachable at 127.0.0.1:6379")
    yield redis_buckets, clock
    asyncio.run(_cleanup(redis_buckets))


async def _reachable(buckets: RedisBuckets) -> bool:
    ok = await buckets.connect()
    await buckets.close()
    return ok


async def _cleanup(buckets: RedisBuckets) -> None:
    import redis.asyncio as redis_asyncio

    r = redis_asyncio.from_url(REDIS_URL)
    keys = [k async for k in r.scan_iter(match=buckets.prefix + "*")]
    if keys:
        await r.delete(*keys)
    await r.aclose()


def test_burst_then_429_with_exact_retry_after_then_refill(buckets: tuple[Buckets, FakeClock]) -> None:
    store, clock = buckets

    async def scenario() -> None:
        async with client(store, limits()) as c:
            path = "/api/v1/t/acme/audit"
            for _ in range(3):  # burst 3
                assert (await c.get(path, headers=bearer("eco_live_a"))).status_code == 200
            denied = await c.get(path, headers=bearer("eco_live_a"))
            assert denied.status_code == 429
            assert denied.headers["retry-after"] == "1"  # 1 token/s, bucket empty
            assert denied.headers["content-type"] == "application/json"
            error = denied.json()["error"]
            assert error["code"] == "rate_limited"
            assert error["message"] == "too many requests with this API key: retry in 1 s"
            assert error["details"] == {
                "limit": "api_key",
                "rate_per_second": 1,
                "burst": 3,
                "retry_after": 1,
            }
            clock.advance(0.5)
            half = await c.get(path, headers=bearer("eco_live_a"))
            assert half.status_code == 429 and half.headers["retry-after"] == "1"  # 0.5 s left: rounds up
            clock.advance(0.5)
            assert (await c.get(path, headers=bearer("eco_live_a"))).status_code == 200
            assert (await c.get(path, headers=bearer("eco_live_a"))).status_code == 429
            clock.advance(10)  # refills to the burst, not beyond
            statuses = [(await c.get(path, headers=bearer("eco_live_a"))).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]

    run(scenario())


def test_retry_after_is_correct_to_the_second_for_slow_rates(buckets: tuple[Buckets, FakeClock]) -> None:
    """Write keys refill at 0.5/s here: an empty bucket needs 2 s, and exactly 2 s is enough."""
    store, clock = buckets

    async def scenario() -> None:
        async with client(store, limits()) as c:
            for _ in range(2):
                assert (await c.post("/v1/track", headers=basic("wk_one"), content=b"{}")).status_code == 200
            denied = await c.post("/v1/track", headers=basic("wk_one"), content=b"{}")
            assert denied.status_code == 429 and denied.headers["retry-after"] == "2"
            clock.advance(1.999)
            assert (await c.post("/v1/track", headers=basic("wk_one"), content=b"{}")).status_code == 429
            clock.advance(0.001)
            assert (await c.post("/v1/track", headers=basic("wk_one"), content=b"{}")).status_code == 200

    run(scenario())


def test_buckets_are_separate_per_key_and_ip(buckets: tuple[Buckets, FakeClock]) -> None:
    store, _ = buckets
    settings = limits(ratelimit_ip_burst=5, ratelimit_api_key_burst=100)

    async def scenario() -> None:
        async with client(store, settings, "10.0.0.1") as one, client(store, settings, "10.0.0.2") as two:
            for _ in range(5):
                assert (await one.get("/healthz")).status_code == 200
            denied = await one.get("/healthz")
            assert denied.status_code == 429 and denied.json()["error"]["details"]["limit"] == "ip"
            assert (await two.get("/healthz")).status_code == 200  # another address, its own bucket

    run(scenario())

    async def keys() -> None:
        async with client(store, limits(), "10.0.0.3") as c:
            for _ in range(3):
                await c.get("/api/v1/t/acme/x", headers=bearer("eco_live_first"))
            assert (await c.get("/api/v1/t/acme/x", headers=bearer("eco_live_first"))).status_code == 429
            assert (await c.get("/api/v1/t/acme/x", headers=bearer("eco_live_second"))).status_code == 200
            # Requests without a key only spend the address's bucket.
            assert (await c.get("/api/v1/t/acme/x")).status_code == 200

    run(keys())


def test_write_key_and_api_key_limits_are_independent(buckets: tuple[Buckets, FakeClock]) -> None:
    store, _ = buckets

    async def scenario() -> None:
        async with client(store, limits()) as c:
            # Same secret string used as both: still two buckets (different kinds of credential).
            for _ in range(3):
                assert (await c.get("/api/v1/t/acme/x", headers=bearer("same"))).status_code == 200
            assert (await c.get("/api/v1/t/acme/x", headers=bearer("same"))).status_code == 429
            assert (await c.post("/v1/batch", headers=bearer("same"), content=b"{}")).status_code == 200
            # Basic (username) and Bearer carry the same write key: one bucket, so no doubled budget.
            assert (await c.post("/v1/batch", headers=basic("same"), content=b"{}")).status_code == 200
            over = await c.post("/v1/batch", headers=basic("same"), content=b"{}")
            assert over.status_code == 429 and over.json()["error"]["details"]["limit"] == "write_key"
            assert (await c.get("/api/v1/t/acme/x", headers=bearer("other"))).status_code == 200

    run(scenario())


def test_the_middleware_never_reads_a_body(buckets: tuple[Buckets, FakeClock]) -> None:
    """A key only in the body is the ingest handler's to charge, after load shedding admitted the request:
    the middleware passes such requests on unread and charges their address only."""
    store, _ = buckets
    body = b'{"writeKey": "wk_in_body", "batch": [' + b'{"type":"track","event":"x"},' * 2000 + b"{}]}"

    async def scenario() -> None:
        async with client(store, limits()) as c:
            for _ in range(4):  # the write_key burst is 2: the body's key is not charged here
                answer = await c.post("/v1/batch", content=body)
                assert answer.status_code == 200 and answer.content == body

    run(scenario())


def test_sign_in_paths_have_a_tight_bucket_per_address(buckets: tuple[Buckets, FakeClock]) -> None:
    store, clock = buckets

    async def scenario() -> None:
        async with client(store, limits(), "10.0.0.9") as c, client(store, limits(), "10.0.0.10") as d:
            assert (await c.post("/auth/login", content=b"x")).status_code == 200
            assert (await c.post("/auth/mfa", content=b"x")).status_code == 200
            denied = await c.post("/auth/step-up", content=b"x")
            assert denied.status_code == 429
            assert denied.headers["retry-after"] == "60"  # 1 per minute
            assert denied.json()["error"]["message"].startswith("too many sign-in attempts")
            assert (await c.get("/auth/login")).status_code == 200  # the form itself is not throttled
            assert (await d.post("/auth/login", content=b"x")).status_code == 200
            clock.advance(60)
            assert (await c.post("/auth/login", content=b"x")).status_code == 200

    run(scenario())


def test_spending_leaves_debt_so_the_sustained_rate_is_the_buckets(
    buckets: tuple[Buckets, FakeClock],
) -> None:
    """A request costing 21 tokens after the fact must not pass every time one token is back: the bucket
    goes into debt (down to -burst) and the next one passes only once the debt is paid."""
    store, clock = buckets
    junk = Limit("write_key_invalid", 20, 100)
    ask = [Charge(junk, "write_key_invalid:k", 0)]
    run(store.spend([Charge(junk, "write_key_invalid:k", 100)]))
    run(store.spend([Charge(junk, "write_key_invalid:k", 21)]))  # 21 in debt
    clock.advance(1)  # 20 back: still 1 in debt
    assert run(store.take(ask)) is not None
    clock.advance(0.15)  # 23 back: 2 tokens
    assert run(store.take(ask)) is None
    for _ in range(20):
        run(store.spend([Charge(junk, "write_key_invalid:k", 100)]))
    clock.advance(5.1)  # the debt is bounded by one burst: paid back in 5 s, then 2 tokens
    assert run(store.take(ask)) is None


def test_denied_requests_charge_no_bucket() -> None:
    """An address over its limit does not also burn its key's tokens (nothing is charged on 429)."""
    clock = FakeClock()
    store = MemoryBuckets(clock=clock)
    ip = Limit("ip", 1, 1)
    key = Limit("api_key", 1, 5)
    assert store.take_now([Charge(ip, "ip:a"), Charge(key, "api_key:k")]) is None
    denial = store.take_now([Charge(ip, "ip:a"), Charge(key, "api_key:k")])
    assert denial is not None and denial.limit is ip
    for _ in range(4):
        assert store.take_now([Charge(key, "api_key:k")]) is None  # 4 of 5 still there
    assert store.take_now([Charge(key, "api_key:k")]) is not None


def test_memory_buckets_stay_bounded_and_drop_idle_ones() -> None:
    clock = FakeClock()
    store = MemoryBuckets(max_buckets=100, clock=clock)
    limit = Limit("ip", 10, 10)
    for i in range(1_000):
        store.take_now([Charge(limit, f"ip:{i}")])
    assert len(store) == 100  # least recently used went first
    assert store.take_now([Charge(limit, "ip:999")]) is None  # the newest ones are kept
    clock.advance(5)  # every bucket refilled: they are dropped as requests come in
    for i in range(20):
        store.take_now([Charge(limit, f"new:{i}")])
    assert len(store) < 100


def test_huge_credentials_are_hashed_not_stored() -> None:
    limiter = RateLimiter(limits(), buckets=MemoryBuckets())
    scope = {
        "type": "http",
        "path": "/api/v1/t/acme/x",
        "method": "GET",
        "client": ("10.0.0.1", 1),
        "headers": [(b"authorization", b"Bearer " + b"k" * 60_000)],
    }
    charges = limiter.charges(scope)
    assert [c.limit.kind for c in charges] == ["ip", "api_key"]
    assert len(charges[1].bucket) == len("api_key:") + 32


def test_redis_failure_falls_back_to_process_memory() -> None:
    if importlib.util.find_spec("redis") is None:
        _need("redis-py is not installed")
    clock = FakeClock()
    store = RedisBuckets("redis://127.0.0.1:1/0", clock=clock, fallback=MemoryBuckets(clock=clock))

    async def scenario() -> None:
        async with client(store, limits()) as c:
            statuses = [(await c.get("/api/v1/t/a/x", headers=bearer("k"))).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
        await store.close()

    run(scenario())


def test_two_processes_share_redis_buckets() -> None:
    """Two limiters (two server processes) on one Redis: the burst is shared, not doubled."""
    if importlib.util.find_spec("redis") is None:
        _need("redis-py is not installed")
    clock = FakeClock(1_700_000_000.0)
    prefix = f"ecomops-test:{uuid.uuid4().hex}:{{rl}}:"
    first = RedisBuckets(REDIS_URL, prefix=prefix, clock=clock)
    second = RedisBuckets(REDIS_URL, prefix=prefix, clock=clock)
    if not asyncio.run(_reachable(first)):
        _need("Redis is not reachable at 127.0.0.1:6379")

    async def scenario() -> None:
        async with client(first, limits()) as a, client(second, limits()) as b:
            got = []
            for c in (a, b, a, b):
                got.append((await c.get("/api/v1/t/a/x", headers=bearer("shared"))).status_code)
            assert got == [200, 200, 200, 429]
        await first.close()
        await second.close()

    try:
        run(scenario())
    finally:
        asyncio.run(_cleanup(first))


@pytest.fixture
def tight_limits(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small buckets for the real server (set before the settings fixture reads the environment)."""
    monkeypatch.setenv("ECOMOPS_RATELIMIT_API_KEY_BURST", "3")
    monkeypatch.setenv("ECOMOPS_RATELIMIT_API_KEY_RATE", "0.01")
    get_settings.cache_clear()


def test_real_server_limits_api_keys_but_not_ingest(
    tight_limits: None, server: InProcServer, engine: Engine
) -> None:
    _, key = tenancy.create_api_key(engine, "acme", "admin")
    # The server's buckets on a clock that stands still: the bucket refills 0.01 token/s, so an exact
    # Retry-After of 100 s held only while the four requests took less than a second of real time.
    buckets = server.state.services["ratelimit"].buckets
    assert isinstance(buckets, MemoryBuckets)
    buckets.clock = FakeClock()
    with httpx.Client(base_url=server.url, headers=bearer(key), timeout=DEADLINE) as c:
        for _ in range(3):
            assert c.get("/api/v1/t/acme/audit").status_code == 200
        denied = c.get("/api/v1/t/acme/audit", headers={"X-Request-ID": "rl-test-1"})
        assert denied.status_code == 429
        assert denied.headers["retry-after"] == "100"  # 0.01 token/s
        assert denied.headers["x-request-id"] == "rl-test-1"
        assert denied.headers["x-content-type-options"] == "nosniff"
        assert denied.json()["error"]["details"]["limit"] == "api_key"
    with server.client() as ingest:  # the write key has its own bucket
        assert (
            ingest.post("/v1/track", json={"event": "A", "userId": "u", "messageId": "m"}).status_code == 200
        )


@pytest.fixture
def tight_write_key(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMOPS_RATELIMIT_WRITE_KEY_BURST", "2")
    monkeypatch.setenv("ECOMOPS_RATELIMIT_WRITE_KEY_RATE", "0.01")
    get_settings.cache_clear()


def test_real_ingest_charges_a_body_write_key_per_request(
    tight_write_key: None, server: InProcServer, engine: Engine
) -> None:
    _, other_key = tenancy.create_source(engine, server.tenant.slug, "other", "web")

    def body(key: str, n: int) -> dict[str, object]:
        return {
            "writeKey": key,
            "batch": [
                {"type": "track", "event": "A", "userId": "u", "messageId": f"{key}-{n}-{i}"}
                for i in range(50)
            ],
        }

    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        for n in range(2):
            answer = c.post("/v1/batch", json=body(server.write_key, n))
            assert answer.status_code == 200, answer.text
            assert answer.json()["accepted"] == 50
        over = c.post("/v1/batch", json=body(server.write_key, 2))
        assert over.status_code == 429
        assert over.json()["error"]["details"]["limit"] == "write_key"
        # The same key in a header shares the bucket; another key has its own.
        assert c.post("/v1/batch", json=body("", 3), auth=(server.write_key, "")).status_code == 429
        assert c.post("/v1/batch", json=body(other_key, 0)).status_code == 200


def test_redis_url_without_redis_py_keeps_limits_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)  # import fails as if redis-py were absent
    clock = FakeClock()
    store = RedisBuckets(REDIS_URL, clock=clock, fallback=MemoryBuckets(clock=clock))

    async def scenario() -> None:
        assert await store.connect() is False
        async with client(store, limits()) as c:
            statuses = [(await c.get("/api/v1/t/a/x", headers=bearer("k"))).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]

    run(scenario())
