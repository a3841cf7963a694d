"""Write the operational catalogue: products, warehouses and stock levels, upserted by id.

Writers outside this module (the demo-shop simulator today, channel connectors later) hand over plain
rows; this module owns the tables and decides how they are stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, select

from ecomops.kernel.clock import utcnow
from ecomops.platform.store.scoping import tenant_session
from ecomops.products.models import Product, StockLevel, Warehouse


@dataclass(frozen=True)
class WarehouseRow:
    id: str
    code: str
    name: str
    region: str | None


@dataclass(frozen=True)
class ProductRow:
    id: str
    sku: str
    name: str
    category: str | None
    price: Decimal
    cost: Decimal | None
    currency: str
    attributes: dict[str, object] = field(default_factory=dict)
    status: str = "active"


@dataclass(frozen=True)
class StockRow:
    id: str
    product_id: str
    warehouse_id: str
    on_hand: int
    reserved: int


def foreign_keys_in_use(
    engine: Engine, tenant_id: str, skus: Sequence[str], codes: Sequence[str], own_id_prefix: str
) -> tuple[list[str], list[str]]:
    """SKUs and warehouse codes among those given that rows *not* written by the caller already use."""
    with tenant_session(engine, tenant_id) as s:
        clash = s.scalars(
            select(Product.sku).where(
                Product.tenant_id == tenant_id,
                Product.sku.in_(list(skus)),
                Product.id.not_like(f"{own_id_prefix}%"),
            )
        ).all()
        clash_wh = s.scalars(
            select(Warehouse.code).where(
                Warehouse.tenant_id == tenant_id,
                Warehouse.code.in_(list(codes)),
                Warehouse.id.not_like(f"{own_id_prefix}%"),
            )
        ).all()
    return sorted(clash), sorted(clash_wh)


def upsert_catalogue(
    engine: Engine,
    tenant_id: str,
    warehouses: Sequence[WarehouseRow],
    products: Sequence[ProductRow],
    levels: Sequence[StockRow],
) -> dict[str, int]:
    """Insert or update every row by id in one transaction; returns how many of each were written."""
    now = utcnow()
    with tenant_session(engine, tenant_id) as s:
        known_wh = {w.id: w for w in s.scalars(select(Warehouse).where(Warehouse.tenant_id == tenant_id))}
        for w in warehouses:
            wh = known_wh.get(w.id) or Warehouse(id=w.id, tenant_id=tenant_id, code=w.code)
            wh.name, wh.region = w.name, w.region
            s.add(wh)
        known = {p.id: p for p in s.scalars(select(Product).where(Product.tenant_id == tenant_id))}
        for p in products:
            row = known.get(p.id) or Product(id=p.id, tenant_id=tenant_id, sku=p.sku, created_at=now)
            row.name, row.category, row.price, row.cost = p.name, p.category, p.price, p.cost
            row.currency, row.status, row.updated_at = p.currency, p.status, now
            row.attributes = dict(p.attributes)
            s.add(row)
        s.flush()
        known_levels = {
            lv.id: lv for lv in s.scalars(select(StockLevel).where(StockLevel.tenant_id == tenant_id))
        }
        by_cell = {(lv.product_id, lv.warehouse_id): lv for lv in known_levels.values()}
        for lv in levels:
            level = by_cell.get((lv.product_id, lv.warehouse_id)) or StockLevel(
                id=lv.id, tenant_id=tenant_id, product_id=lv.product_id, warehouse_id=lv.warehouse_id
            )
            level.on_hand, level.reserved, level.updated_at = lv.on_hand, lv.reserved, now
            s.add(level)
    return {"products": len(products), "warehouses": len(warehouses), "stock_levels": len(levels)}
