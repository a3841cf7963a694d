"""Re-seeding replaces the simulator's rows atomically and leaves everyone else's rows alone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ecomops.kernel.errors import Conflict
from ecomops.platform.store.scoping import tenant_session
from ecomops.products.models import Product
from ecomops.simulate import writer
from ecomops.simulate.params import SeedParams
from ecomops.simulate.service import seed_demo
from tests.simulate.conftest import new_shop

SMALL = SeedParams(days=40, customers=900, seed=3, end_date=date(2026, 6, 30))


def test_reseed_replaces_without_duplicates_and_keeps_foreign_rows(tmp_path: Path) -> None:
    engine, tenant, warehouse = new_shop(tmp_path)
    try:
        with warehouse.write() as cur:
            cur.execute(
                "INSERT INTO events (message_id, type, event, ts, received_at) VALUES (?, ?, ?, ?, ?)",
                [
                    "ingested-1",
                    "track",
                    "Signed Up",
                    datetime(2026, 1, 1, tzinfo=UTC),
                    datetime(2026, 1, 1, tzinfo=UTC),
                ],
            )
        first = seed_demo(engine, warehouse, tenant, SMALL, tmp_path / "m.json")
        again = seed_demo(
            engine,
            warehouse,
            tenant,
            SeedParams(SMALL.days, SMALL.customers, 4, SMALL.end_date),
            tmp_path / "m.json",
        )
        for table, n in again.row_counts.items():
            foreign = 1 if table == "events" else 0
            assert warehouse.query(f"SELECT count(*) FROM {table}")[0][0] == n + foreign, table
        assert first.row_counts["customers"] == again.row_counts["customers"] == SMALL.customers
        assert warehouse.query("SELECT count(*) FROM events WHERE message_id = 'ingested-1'") == [(1,)]
        with tenant_session(engine, tenant.id) as s:
            assert (
                s.query(Product).filter(Product.tenant_id == tenant.id).count()
                == again.row_counts["products"]
            )
    finally:
        warehouse.close()
        engine.dispose()


def test_failed_write_leaves_the_previous_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, tenant, warehouse = new_shop(tmp_path)
    try:
        seed_demo(engine, warehouse, tenant, SMALL, tmp_path / "m.json")
        before = warehouse.query("SELECT count(*), sum(total) FROM orders")

        def broken(name: str) -> str:
            return "SELECT * FROM no_such_table" if name == "reviews" else original(name)

        original = writer.statement
        monkeypatch.setattr(writer, "statement", broken)
        with pytest.raises(Exception, match="no_such_table"):
            seed_demo(
                engine,
                warehouse,
                tenant,
                SeedParams(SMALL.days, SMALL.customers, 9, SMALL.end_date),
                tmp_path / "m.json",
            )
        assert warehouse.query("SELECT count(*), sum(total) FROM orders") == before
    finally:
        warehouse.close()
        engine.dispose()


def test_refuses_to_overwrite_the_tenants_own_products(tmp_path: Path) -> None:
    engine, tenant, warehouse = new_shop(tmp_path)
    try:
        with tenant_session(engine, tenant.id) as s:
            s.add(Product(tenant_id=tenant.id, sku="BEA-0001", name="mine", price=1, currency="CNY"))
        with pytest.raises(Conflict, match="separate tenant"):
            seed_demo(engine, warehouse, tenant, SMALL, tmp_path / "m.json")
        assert warehouse.query("SELECT count(*) FROM orders") == [(0,)]
    finally:
        warehouse.close()
        engine.dispose()
