"""The shared feed without HTTP: first snapshots for late joiners, latest-wins mailboxes, idle stop."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from ecomops.live import service
from ecomops.live.hub import LiveHub, Subscription
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import WarehouseRegistry
from tests.timing import DEADLINE, ManualClock, ManualDateTime

SCOPE = service.LiveScope("Asia/Shanghai", "CNY")
NOW = datetime(2026, 11, 11, 12, 0, 30, tzinfo=UTC)


async def _until_idle(hub: LiveHub, tenant_id: str) -> None:
    """The feed task has ended (the last subscriber left); the deadline only bounds a failure."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while hub.stats(tenant_id)["running"]:
        assert loop.time() < deadline, "the feed never stopped after its last subscriber left"
        await asyncio.sleep(0.01)


def test_a_late_joiner_gets_a_snapshot_even_when_nothing_changed(
    settings: Settings, tenant: TenantInfo
) -> None:
    registry = WarehouseRegistry(settings.warehouse_dir())

    async def scenario() -> None:
        clock = ManualDateTime(NOW)
        ticks = ManualClock()  # ages the cached snapshot; an interval no test outlives ticks nothing itself
        hub = LiveHub(registry, interval=60, probe=0.01, clock=clock, monotonic=ticks)
        async with hub.subscribe(tenant.id, SCOPE) as first:
            body = await first.next(DEADLINE)
            assert body is not None and b'"orders":0' in body
        await _until_idle(hub, tenant.id)
        computed = hub.stats(tenant.id)["computations"]
        assert computed == 1
        ticks.advance(60)  # the cached snapshot is now as old as the interval
        async with hub.subscribe(tenant.id, SCOPE) as second:
            # Same content as before (the clock is pinned), still delivered: nothing on screen otherwise.
            assert await second.next(DEADLINE) == body
            assert hub.stats(tenant.id)["computations"] == computed + 1
        await _until_idle(hub, tenant.id)
        # Two minutes later: a joiner must not be shown the stale figures first.
        clock.advance(120)
        ticks.advance(120)
        async with hub.subscribe(tenant.id, SCOPE) as third:
            later = await third.next(DEADLINE)
            assert later is not None and b'"as_of":"2026-11-11T12:02:30+00:00"' in later
        await hub.close()

    try:
        asyncio.run(scenario())
    finally:
        registry.close_all()


def test_a_fresh_snapshot_is_handed_to_a_joiner_without_a_computation(
    settings: Settings, tenant: TenantInfo
) -> None:
    """Many screens, one computation: joiners of a running feed share its snapshot while it is fresh."""
    registry = WarehouseRegistry(settings.warehouse_dir())

    async def scenario() -> None:
        ticks = ManualClock()
        hub = LiveHub(registry, interval=60, probe=0.01, clock=ManualDateTime(NOW), monotonic=ticks)
        async with contextlib.AsyncExitStack() as screens:
            first = await screens.enter_async_context(hub.subscribe(tenant.id, SCOPE))
            body = await first.next(DEADLINE)
            for _ in range(11):
                ticks.advance(1)  # still younger than the interval
                late = await screens.enter_async_context(hub.subscribe(tenant.id, SCOPE))
                assert await late.next(DEADLINE) == body
            assert hub.stats(tenant.id) == {"subscribers": 12, "running": True, "computations": 1}
            ticks.advance(60)
            # The JSON endpoint's path: a snapshot as old as the interval is recomputed, once.
            assert (await hub.snapshot(tenant.id, SCOPE)).body == body
            assert hub.stats(tenant.id)["computations"] == 2
        await _until_idle(hub, tenant.id)
        assert hub.stats(tenant.id) == {"subscribers": 0, "running": False, "computations": 2}
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
        assert await sub.next(DEADLINE) == b"3"
        assert sub.mailbox.empty(), "the mailbox held more than the newest snapshot"

    asyncio.run(scenario())
