"""The shared feed without HTTP: first snapshots for late joiners, latest-wins mailboxes, idle stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ecomops.live import service
from ecomops.live.hub import LiveHub, Subscription
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import WarehouseRegistry

SCOPE = service.LiveScope("Asia/Shanghai", "CNY")
NOW = datetime(2026, 11, 11, 12, 0, 30, tzinfo=UTC)


def test_a_late_joiner_gets_a_snapshot_even_when_nothing_changed(
    settings: Settings, tenant: TenantInfo
) -> None:
    registry = WarehouseRegistry(settings.warehouse_dir())

    async def scenario() -> None:
        clock = [NOW]
        hub = LiveHub(registry, interval=0.2, probe=0.05, clock=lambda: clock[0])
        async with hub.subscribe(tenant.id, SCOPE) as first:
            body = await first.next(5)
            assert body is not None and b'"orders":0' in body
        while hub.stats(tenant.id)["running"]:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the cached snapshot is now older than the interval
        computed = hub.stats(tenant.id)["computations"]
        async with hub.subscribe(tenant.id, SCOPE) as second:
            # Same content as before (the clock is pinned), still delivered: nothing on screen otherwise.
            assert await second.next(5) == body
            assert hub.stats(tenant.id)["computations"] == computed + 1
        while hub.stats(tenant.id)["running"]:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        # Two minutes later: a joiner must not be shown the stale figures first.
        clock[0] = NOW.replace(minute=2)
        async with hub.subscribe(tenant.id, SCOPE) as third:
            later = await third.next(5)
            assert later is not None and b'"as_of":"2026-11-11T12:02:30+00:00"' in later
        await hub.close()

    try:
        asyncio.run(scenario())
    finally:
        registry.close_all()


def test_a_slow_reader_gets_only_the_newest_snapshot() -> None:
    async def scenario() -> None:
        sub = Subscription()
        sub.offer(b"1")
        sub.offer(b"2")
        sub.offer(b"3")
        assert await sub.next(1) == b"3"
        try:
            await sub.next(0.05)
        except TimeoutError:
            return
        raise AssertionError("the mailbox held more than the newest snapshot")

    asyncio.run(scenario())
