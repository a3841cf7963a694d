"""Stock changes are one conditional UPDATE, so concurrent checkouts can never oversell.

Open-source carts that read the level, check it in application code and write it back oversell
under concurrency (ARCHITECTURE.md, known pitfalls). Here many threads, each on its own
connection, hammer one stock level at once; every unit must be sold exactly once.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import Engine, text

from ecomops.platform.store.db import make_engine
from ecomops.platform.store.models import Tenant
from ecomops.platform.store.scoping import system_session, tenant_connection
from ecomops.products.models import Product, StockLevel, Warehouse

THREADS = 24
ON_HAND = 260
RESERVED = 20

#: The atomic form: the availability check and the decrement are one statement.
DECREMENT = text(
    "UPDATE stock_levels SET on_hand = on_hand - :q "
    "WHERE id = :id AND tenant_id = :tenant_id AND on_hand - reserved >= :q"
)


def _stocked(engine: Engine) -> tuple[str, str]:
    with system_session(engine, "test fixture: a new tenant and its stock") as s:
        tenant = Tenant(slug="acme", name="Acme", timezone="UTC", currency="USD")
        s.add(tenant)
        s.flush()
        product = Product(tenant_id=tenant.id, sku="HOT-1", name="Hot item", price=Decimal(5), currency="USD")
        warehouse = Warehouse(tenant_id=tenant.id, code="W1", name="Main")
        s.add_all([product, warehouse])
        s.flush()
        level = StockLevel(
            tenant_id=tenant.id,
            product_id=product.id,
            warehouse_id=warehouse.id,
            on_hand=ON_HAND,
            reserved=RESERVED,
        )
        s.add(level)
    return tenant.id, level.id


def test_concurrent_conditional_decrements_never_oversell(store_engine: Engine, store_url: str) -> None:
    tenant_id, level_id = _stocked(store_engine)
    # One pooled connection per thread so the decrements really run side by side in the database.
    engine = make_engine(store_url, pool_size=THREADS, max_overflow=0)
    start = threading.Barrier(THREADS)

    def buyer() -> tuple[int, int]:
        """Take one unit at a time until refused; returns (units sold, refusals)."""
        sold = 0
        start.wait()
        while True:
            with tenant_connection(engine, tenant_id) as conn:
                taken = conn.execute(DECREMENT, {"q": 1, "id": level_id, "tenant_id": tenant_id}).rowcount
            if taken == 0:
                return sold, 1
            assert taken == 1
            sold += 1

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(lambda _: buyer(), range(THREADS)))
        with tenant_connection(engine, tenant_id) as conn:
            on_hand, reserved = conn.execute(
                text("SELECT on_hand, reserved FROM stock_levels WHERE id = :id"), {"id": level_id}
            ).one()
        # A too-large order is refused outright and leaves the level untouched.
        with tenant_connection(engine, tenant_id) as conn:
            assert conn.execute(DECREMENT, {"q": 1, "id": level_id, "tenant_id": tenant_id}).rowcount == 0
    finally:
        engine.dispose()

    sold = sum(units for units, _ in results)
    assert sold == ON_HAND - RESERVED, f"sold {sold} of {ON_HAND - RESERVED} available units"
    assert (on_hand, reserved) == (RESERVED, RESERVED)
    assert sum(1 for units, _ in results if units > 0) > 1, "decrements did not interleave across threads"


def test_decrement_is_scoped_to_the_tenant(store_engine: Engine) -> None:
    tenant_id, level_id = _stocked(store_engine)
    # The connection is the level's own tenant's: only the statement's tenant_id condition refuses.
    with tenant_connection(store_engine, tenant_id) as conn:
        taken = conn.execute(DECREMENT, {"q": 1, "id": level_id, "tenant_id": "tn_someone_else"}).rowcount
    assert taken == 0
