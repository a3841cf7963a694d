"""Start-up warm-up: the first overview request after a restart finds its shop's figures kept."""

from __future__ import annotations

import asyncio
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from ecomops.analytics import overview, rollup_cache, rollup_days, service, warmup
from ecomops.kernel.clock import utcnow
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import WarehouseRegistry, open_warehouse
from ecomops.platform.web.state import AppState
from ecomops.simulate.params import SeedParams
from ecomops.simulate.service import seed_demo


@pytest.fixture
def state(settings: Settings, engine: Engine, tenant: TenantInfo, data_dir: Path) -> AppState:
    """A shop with 21 days of orders up to today, as a restarted server finds it (nothing open yet)."""
    today = utcnow().astimezone(ZoneInfo(tenant.timezone)).date()
    warehouse = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        params = SeedParams(days=21, customers=500, seed=7, end_date=today)
        seed_demo(engine, warehouse, tenant, params, data_dir / "manifest.json")
        with warehouse.write() as cur:  # as before the shop's first metrics request
            cur.execute("UPDATE rollup_state SET day_zone = NULL")
    finally:
        warehouse.close()
    return AppState(settings, engine, WarehouseRegistry(settings.warehouse_dir()), control_token="")


def test_warm_up_opens_the_shop_and_keeps_the_overview_figures(state: AppState, tenant: TenantInfo) -> None:
    rollup_cache.CACHE.clear()
    state.settings.warm_up_shops = 5
    asyncio.run(warmup.startup(state))
    warm_up = state.services[warmup.SERVICE]
    warm_up.join(120)
    assert warm_up.warmed == 1 and warm_up.seconds is not None
    with state.warehouses.get(tenant.id).reading() as cur:
        assert rollup_days.zone_of(cur) == tenant.timezone, "the day tables were built at start-up"

    misses, hits = rollup_cache.CACHE.misses, rollup_cache.CACHE.hits
    today = utcnow().astimezone(ZoneInfo(tenant.timezone)).date()
    cards = overview.metric_queries(overview.resolve_range(None, None, None, today, None))[0]
    answer = service.get_metrics(state, tenant, cards)
    assert answer.source == "rollups"
    assert rollup_cache.CACHE.misses == misses, "every kept period of the first request was warmed"
    assert rollup_cache.CACHE.hits > hits
    asyncio.run(warmup.shutdown(state))
    state.warehouses.close_all()


def test_no_warm_up_when_switched_off(state: AppState) -> None:
    state.settings.warm_up_shops = 0
    asyncio.run(warmup.startup(state))
    assert warmup.SERVICE not in state.services
    state.warehouses.close_all()
