"""The per-process API-key cache: revocation here is immediate, elsewhere bounded by the TTL; expiry is
checked on every hit; ``last_used_at`` is written at most once a minute per key."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import Engine, text

from ecomops.kernel.clock import utcnow
from ecomops.platform.context import TenantInfo
from ecomops.platform.store.scoping import system_connection
from ecomops.tenancy import apikeys
from ecomops.tenancy import service as tenancy
from ecomops.tenancy.apikeys import ApiKeyCache
from tests.conftest import InProcServer
from tests.timing import DEADLINE


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _get(server: InProcServer, key: str) -> int:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE) as c:
        return c.get("/api/v1/t/acme/audit", params={"limit": 1}).status_code


def _frozen_cache(server: InProcServer) -> ApiKeyCache:
    """The server's cache with its TTL on a clock that stands still: an entry cannot expire by itself
    between requests, so what drops it is the behaviour under test, not a slow machine."""
    cache = server.state.services["api_keys"] = ApiKeyCache(5.0, clock=FakeClock())
    return cache


def test_revocation_through_this_process_is_immediate(server: InProcServer, engine: Engine) -> None:
    cache = _frozen_cache(server)
    info, key = tenancy.create_api_key(engine, "acme", "admin")
    assert _get(server, key) == 200
    assert len(cache) == 1  # resolved once, now served from memory
    tenancy.revoke_api_key(engine, "acme", info.id)  # same process as the server: its commit is seen
    assert len(cache) == 0
    assert _get(server, key) == 401


def test_revocation_elsewhere_takes_effect_within_the_ttl(server: InProcServer, engine: Engine) -> None:
    clock = FakeClock()
    server.state.services["api_keys"] = ApiKeyCache(5.0, clock=clock)
    info, key = tenancy.create_api_key(engine, "acme", "admin")
    assert _get(server, key) == 200
    # Another process (the CLI, another server) revokes: no event reaches this process's cache.
    with system_connection(engine, "test: revoke as another process would") as conn:
        conn.execute(
            text("UPDATE api_keys SET revoked_at = :now WHERE id = :id"), {"now": utcnow(), "id": info.id}
        )
    clock.now += 4.9
    assert _get(server, key) == 200  # still inside the documented bound
    clock.now += 0.2
    assert _get(server, key) == 401


def test_other_tenants_and_unknown_keys_are_not_served_from_the_cache(
    server: InProcServer, engine: Engine
) -> None:
    tenancy.create_tenant(engine, "other")
    _, key = tenancy.create_api_key(engine, "acme", "admin")
    assert _get(server, key) == 200
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE) as c:
        assert c.get("/api/v1/t/other/audit").status_code == 404  # cached key, wrong tenant: same 404
        assert c.get("/api/v1/t/nope/audit").status_code == 404
    assert _get(server, "eco_live_unknown") == 401
    assert len(server.state.services["api_keys"]) == 1


def test_expiry_is_checked_on_every_hit() -> None:
    clock = FakeClock()
    cache = ApiKeyCache(60.0, clock=clock)
    tenant = TenantInfo("t1", "acme", "Acme", "UTC", "USD", utcnow())
    soon = tenancy.ApiKeyInfo("k1", "t1", "n", "admin", "eco_live_x", utcnow() + timedelta(hours=1))
    gone = tenancy.ApiKeyInfo("k2", "t1", "n", "admin", "eco_live_y", utcnow() - timedelta(seconds=1))
    cache.put("a", (soon, tenant))
    cache.put("b", (gone, tenant))
    assert cache.get("a") == (soon, tenant)
    assert cache.get("b") is None
    clock.now += 60
    assert cache.get("a") is None  # TTL over


def test_cache_is_bounded() -> None:
    cache = ApiKeyCache(60.0, max_entries=10)
    tenant = TenantInfo("t1", "acme", "Acme", "UTC", "USD", utcnow())
    for i in range(25):
        cache.put(str(i), (tenancy.ApiKeyInfo(f"k{i}", "t1", "n", "admin", "p", None), tenant))
    assert len(cache) == 10 and cache.get("24") is not None and cache.get("0") is None


def test_last_used_at_is_written_at_most_once_a_minute(engine: Engine, tenant: TenantInfo) -> None:
    info, key = tenancy.create_api_key(engine, "acme", "admin")

    def last_used() -> object:
        return next(k for k in tenancy.list_api_keys(engine, "acme") if k.id == info.id).last_used_at

    assert tenancy.api_key_for_secret(engine, key) is not None
    first = last_used()
    assert first is not None
    for _ in range(3):
        tenancy.api_key_for_secret(engine, key)
    assert last_used() == first  # no write per request
    earlier = utcnow() - apikeys.LAST_USED_RESOLUTION - timedelta(seconds=1)
    with system_connection(engine, "test: age last_used_at") as conn:
        conn.execute(
            text("UPDATE api_keys SET last_used_at = :t WHERE id = :id"), {"t": earlier, "id": info.id}
        )
    tenancy.api_key_for_secret(engine, key)
    assert last_used() != earlier and last_used() > earlier  # type: ignore[operator]


def test_revocation_through_the_api_is_immediate(server: InProcServer, engine: Engine) -> None:
    cache = _frozen_cache(server)
    info, doomed = tenancy.create_api_key(engine, "acme", "analyst")
    _, admin = tenancy.create_api_key(engine, "acme", "owner")
    assert _get(server, doomed) == 403  # resolved and cached; analysts may not read the audit log
    assert len(cache) == 1
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=DEADLINE
    ) as c:
        assert c.delete(f"/api/v1/t/acme/keys/{info.id}").status_code == 204
    assert _get(server, doomed) == 401
