"""Mirror the demo catalogue into the operational store (products, warehouses, stock levels) so inventory
and pricing work has editable records. Rows are keyed by deterministic ``sim_`` ids per tenant, so a
re-seed updates them in place; SKUs or warehouse codes the tenant already uses for its own records stop
the seed before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Conflict
from ecomops.kernel.ids import stable_id
from ecomops.platform.store.scoping import tenant_session
from ecomops.products.models import Product, StockLevel
from ecomops.products.models import Warehouse as StoreWarehouse
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
    with tenant_session(engine, tenant_id) as s:
        clash = s.scalars(
            select(Product.sku).where(
                Product.tenant_id == tenant_id, Product.sku.in_(skus), Product.id.not_like(f"{ID_PREFIX}%")
            )
        ).all()
        clash_wh = s.scalars(
            select(StoreWarehouse.code).where(
                StoreWarehouse.tenant_id == tenant_id,
                StoreWarehouse.code.in_(codes),
                StoreWarehouse.id.not_like(f"{ID_PREFIX}%"),
            )
        ).all()
    if clash or clash_wh:
        raise Conflict(
            "the tenant already has its own products or warehouses with the demo shop's SKUs/codes; "
            "seed the demo into a separate tenant",
            {"skus": sorted(clash)[:10], "warehouses": clash_wh},
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
    with tenant_session(engine, tenant_id) as s:
        warehouse_ids = _upsert_warehouses(s, tenant_id)
        product_ids_ = _upsert_products(s, tenant_id, plan)
        s.flush()
        levels = _upsert_levels(s, tenant_id, plan, product_ids_, warehouse_ids)
    return {"products": len(product_ids_), "warehouses": len(warehouse_ids), "stock_levels": levels}


def _upsert_warehouses(s: Session, tenant_id: str) -> list[str]:
    existing = {
        w.id: w for w in s.scalars(select(StoreWarehouse).where(StoreWarehouse.tenant_id == tenant_id))
    }
    ids = []
    for w in WAREHOUSES:
        wid = store_id(tenant_id, "warehouse", w.code)
        row = existing.get(wid) or StoreWarehouse(id=wid, tenant_id=tenant_id, code=w.code)
        row.name, row.region = w.name_en, w.region
        s.add(row)
        ids.append(wid)
    return ids


def _upsert_products(s: Session, tenant_id: str, plan: StorePlan) -> list[str]:
    now = utcnow()
    existing = {p.id: p for p in s.scalars(select(Product).where(Product.tenant_id == tenant_id))}
    warehouse_product_ids = product_ids(len(plan.sku))
    ids = []
    for i, sku in enumerate(plan.sku):
        pid = store_id(tenant_id, "product", sku)
        cat = CATEGORIES[plan.category[i]]
        row = existing.get(pid) or Product(id=pid, tenant_id=tenant_id, sku=sku, created_at=now)
        row.name, row.category = plan.name_zh[i], cat.name_en
        row.price = cents_to_decimal(plan.list_price[i])
        row.cost = cents_to_decimal(plan.cost[i])
        row.currency, row.status, row.updated_at = plan.currency, "active", now
        row.attributes = {
            "name_en": plan.name_en[i],
            "category_key": cat.key,
            "category_zh": cat.name_zh,
            "warehouse_product_id": warehouse_product_ids[i],
            "source": "simulator",
        }
        s.add(row)
        ids.append(pid)
    return ids


def _upsert_levels(
    s: Session, tenant_id: str, plan: StorePlan, product_ids_: list[str], warehouse_ids: list[str]
) -> int:
    """Stock levels = the last snapshot (on hand and reserved at the window's end)."""
    now = utcnow()
    existing = {
        (lv.product_id, lv.warehouse_id): lv
        for lv in s.scalars(select(StockLevel).where(StockLevel.tenant_id == tenant_id))
    }
    on_hand, reserved = plan.on_hand, plan.reserved
    n_wh = len(warehouse_ids)
    for i, pid in enumerate(product_ids_):
        for w, wid in enumerate(warehouse_ids):
            level = existing.get((pid, wid)) or StockLevel(
                id=store_id(tenant_id, "stock", f"{pid}/{wid}"),
                tenant_id=tenant_id,
                product_id=pid,
                warehouse_id=wid,
            )
            level.on_hand = int(on_hand[i * n_wh + w])
            level.reserved = int(reserved[i * n_wh + w])
            level.updated_at = now
            s.add(level)
    return len(product_ids_) * n_wh


def cents_to_decimal(cents: int) -> Decimal:
    return Decimal(cents) / 100
