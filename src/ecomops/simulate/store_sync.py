"""Mirror the demo catalogue into the operational store (products, warehouses, stock levels) so inventory
and pricing work has editable records. Rows are keyed by deterministic ``sim_`` ids per tenant, so a
re-seed updates them in place; SKUs or warehouse codes the tenant already uses for its own records stop
the seed before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine

from ecomops.kernel.errors import Conflict
from ecomops.kernel.ids import stable_id
from ecomops.products import service as products
from ecomops.simulate.catalog import build_catalog
from ecomops.simulate.categories import CATEGORIES
from ecomops.simulate.generate import Simulation
from ecomops.simulate.geo import WAREHOUSES
from ecomops.simulate.params import ID_PREFIX, Shop, component_rng
from ecomops.simulate.tables import product_ids


def store_id(tenant_id: str, kind: str, key: str) -> str:
    return ID_PREFIX + stable_id(tenant_id, kind, key)


def check_conflicts(engine: Engine, tenant_id: str, seed: int, shop: Shop) -> None:
    """Refuse to overwrite the tenant's own products or warehouses that happen to share our keys."""
    skus = build_catalog(component_rng(seed, "catalog"), shop).sku
    codes = [w.code for w in WAREHOUSES]
    clash, clash_wh = products.foreign_keys_in_use(engine, tenant_id, list(skus), codes, ID_PREFIX)
    if clash or clash_wh:
        raise Conflict(
            "the tenant already has its own products or warehouses with the demo shop's SKUs/codes; "
            "seed the demo into a separate tenant",
            {"skus": clash[:10], "warehouses": clash_wh},
        )


@dataclass(frozen=True)
class StorePlan:
    """What the store needs from a simulation, small enough to keep while the big arrays are freed."""

    currency: str
    sku: list[str]
    name_zh: list[str]
    name_en: list[str]
    category: list[int]
    list_price: list[int]
    cost: list[int]
    on_hand: list[int]  # per product × warehouse cell, end of window
    reserved: list[int]


def plan_store(sim: Simulation) -> StorePlan:
    c = sim.catalog
    return StorePlan(
        sim.shop.currency,
        list(c.sku),
        list(c.name_zh),
        list(c.name_en),
        [int(k) for k in c.category],
        [int(p) for p in c.list_price],
        [int(p) for p in c.cost],
        [int(n) for n in sim.stock.on_hand[-1]],
        [int(n) for n in sim.stock.reserved[-1]],
    )


def sync_store(engine: Engine, tenant_id: str, plan: StorePlan) -> dict[str, int]:
    """Upsert products, warehouses and end-of-window stock levels in one transaction."""
    warehouses = [
        products.WarehouseRow(store_id(tenant_id, "warehouse", w.code), w.code, w.name_en, w.region)
        for w in WAREHOUSES
    ]
    warehouse_product_ids = product_ids(len(plan.sku))
    rows = []
    for i, sku in enumerate(plan.sku):
        cat = CATEGORIES[plan.category[i]]
        attributes: dict[str, object] = {
            "name_en": plan.name_en[i],
            "category_key": cat.key,
            "category_zh": cat.name_zh,
            "warehouse_product_id": warehouse_product_ids[i],
            "source": "simulator",
        }
        rows.append(
            products.ProductRow(
                store_id(tenant_id, "product", sku),
                sku,
                plan.name_zh[i],
                cat.name_en,
                cents_to_decimal(plan.list_price[i]),
                cents_to_decimal(plan.cost[i]),
                plan.currency,
                attributes,
            )
        )
    # Stock levels = the last snapshot (on hand and reserved at the window's end).
    n_wh = len(warehouses)
    levels = [
        products.StockRow(
            store_id(tenant_id, "stock", f"{p.id}/{w.id}"),
            p.id,
            w.id,
            int(plan.on_hand[i * n_wh + k]),
            int(plan.reserved[i * n_wh + k]),
        )
        for i, p in enumerate(rows)
        for k, w in enumerate(warehouses)
    ]
    return products.upsert_catalogue(engine, tenant_id, warehouses, rows, levels)


def cents_to_decimal(cents: int) -> Decimal:
    return Decimal(cents) / 100
