"""Seed a tenant with the demo shop: simulate, replace the simulator's warehouse rows in one transaction,
mirror the catalogue and stock into the operational store, write the manifest.

Re-seeding replaces (never duplicates) what an earlier seed wrote; ingested or imported rows stay."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

from sqlalchemy import Engine

from ecomops.kernel.errors import Conflict
from ecomops.platform.audit import record_action
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse
from ecomops.platform.web.state import AppState
from ecomops.simulate.generate import simulate
from ecomops.simulate.manifest import build_manifest, write_manifest
from ecomops.simulate.params import SeedParams, Shop
from ecomops.simulate.store_sync import check_conflicts, plan_store, sync_store
from ecomops.simulate.tables import all_tables
from ecomops.simulate.writer import delete_simulated, write_tables

#: Arrow table → warehouse table, for row counts.
TABLE_NAMES = {
    "sim_events": "events",
    "sim_orders": "orders",
    "sim_items": "order_items",
    "sim_refunds": "refunds",
    "sim_customers": "customers",
    "sim_products": "products",
    "sim_inventory": "inventory_snapshots",
    "sim_ad_spend": "ad_spend",
    "sim_reviews": "reviews",
    "sim_competitors": "competitor_prices",
    "sim_live": "live_sessions",
}


@dataclass(frozen=True)
class SeedResult:
    tenant: str
    params: dict[str, Any]
    row_counts: dict[str, int]
    store_counts: dict[str, int]
    timings: dict[str, float]
    events_per_second: float
    manifest_path: str
    manifest: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_manifest_path(settings: Settings, tenant_slug: str) -> Path:
    return settings.resolved_data_dir / "demo" / f"{tenant_slug}-manifest.json"


def seed(
    state: AppState, tenant: TenantInfo, params: SeedParams, manifest_path: Path | None = None
) -> SeedResult:
    """The "seed the demo shop" use case (API and CLI, here or through the server).

    One seed per process at a time: two would each hold a full shop in memory. The manifest goes to
    ``manifest_path``, else to the data dir's ``demo/<slug>-manifest.json``.
    """
    lock: threading.Lock = state.services.setdefault("demo_seed_lock", threading.Lock())
    if not lock.acquire(blocking=False):
        raise Conflict("a demo seed is already running in this server; try again when it finishes")
    try:
        return seed_demo(
            state.engine,
            state.warehouses.get(tenant.id),
            tenant,
            params,
            manifest_path or default_manifest_path(state.settings, tenant.slug),
        )
    finally:
        lock.release()


def seed_demo(
    engine: Engine, warehouse: Warehouse, tenant: TenantInfo, params: SeedParams, manifest_path: Path
) -> SeedResult:
    """Generate outside the warehouse lock (seconds of CPU), then hold it only for the replace."""
    params = params.validated()
    shop = Shop(tenant.timezone, tenant.currency)
    check_conflicts(engine, tenant.id, params.seed, shop)
    started = perf_counter()
    sim = simulate(params, shop)
    generated = perf_counter()
    tables = all_tables(sim)
    converted = perf_counter()
    counts = {TABLE_NAMES[name]: table.num_rows for name, table in tables.items() if name in TABLE_NAMES}
    tenant_facts = {
        "slug": tenant.slug,
        "id": tenant.id,
        "timezone": tenant.timezone,
        "currency": tenant.currency,
    }
    manifest = build_manifest(sim, tenant_facts, counts)
    store_plan = plan_store(sim)
    as_of_us, n_events = sim.as_of_us, sim.events.size
    del sim  # the arrays the Arrow tables do not share; the write needs the memory more
    described = perf_counter()
    with warehouse.write() as cur:
        delete_simulated(cur)
        write_tables(cur, tables, shop.currency, as_of_us, timezone=tenant.timezone)
    written = perf_counter()
    store_counts = sync_store(engine, tenant.id, store_plan)
    synced = perf_counter()
    write_manifest(manifest_path, manifest)
    details = {"params": params.to_dict(), "rows": counts, "store_rows": store_counts}
    record_action(engine, tenant.id, "demo.seed", "tenant", tenant.id, details=details)
    done = perf_counter()
    timings = {
        "generate_s": generated - started,
        "arrow_s": converted - generated,
        "manifest_s": described - converted + done - synced,
        "warehouse_write_s": written - described,
        "store_sync_s": synced - written,
        "total_s": done - started,
    }
    return SeedResult(
        tenant.slug,
        params.to_dict(),
        counts,
        store_counts,
        {k: round(v, 3) for k, v in timings.items()},
        round(n_events / max(generated - started, 1e-9)),
        str(manifest_path),
        manifest,
    )
