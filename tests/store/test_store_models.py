"""Operational models on SQLite and PostgreSQL: CRUD, tenant ownership, uniqueness, cascades."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, func, inspect, select, update
from sqlalchemy.exc import IntegrityError, StatementError

from ecomops.platform.store.models import Tenant
from ecomops.platform.store.scoping import system_session
from ecomops.products.models import Product, StockLevel, Warehouse
from ecomops.tenancy.models import Source
from ecomops.tenancy.service import hash_secret

#: These tests check the schema itself across tenants, so they use the explicit cross-tenant session.
WHY = "model test: rows of several tenants"


def _tenant(engine: Engine, slug: str) -> str:
    with system_session(engine, WHY) as s:
        tenant = Tenant(slug=slug, name=slug.title(), timezone="Asia/Shanghai", currency="CNY")
        s.add(tenant)
    return tenant.id


def _catalogue(engine: Engine, tenant_id: str, on_hand: int = 10) -> tuple[str, str, str]:
    """One product stocked in one warehouse; returns (product id, warehouse id, stock level id)."""
    with system_session(engine, WHY) as s:
        product = Product(
            tenant_id=tenant_id, sku="SKU-1", name="Tea 茶", price=Decimal("19.9900"), currency="CNY"
        )
        warehouse = Warehouse(tenant_id=tenant_id, code="SH1", name="Shanghai 1", region="CN-SH")
        s.add_all([product, warehouse])
        s.flush()
        stock = StockLevel(
            tenant_id=tenant_id, product_id=product.id, warehouse_id=warehouse.id, on_hand=on_hand
        )
        s.add(stock)
    return product.id, warehouse.id, stock.id


def test_crud_round_trip(engine: Engine) -> None:
    tenant_id = _tenant(engine, "acme")
    with system_session(engine, WHY) as s:
        s.add(
            Source(
                tenant_id=tenant_id,
                name="site",
                channel="web",
                write_key_hash=hash_secret("wk_x"),
                write_key_prefix="wk_x",
            )
        )
    product_id, warehouse_id, stock_id = _catalogue(engine, tenant_id)

    with system_session(engine, WHY) as s:
        product = s.get_one(Product, product_id)
        assert (product.sku, product.name, product.price, product.currency) == (
            "SKU-1",
            "Tea 茶",
            Decimal("19.9900"),
            "CNY",
        )
        assert product.attributes == {} and product.status == "active"
        assert s.get_one(Warehouse, warehouse_id).region == "CN-SH"
        assert s.get_one(StockLevel, stock_id).on_hand == 10
        assert s.scalar(select(Source.channel).where(Source.tenant_id == tenant_id)) == "web"
        # Money keeps four decimal places on both backends (no float round trip).
        product.price = Decimal("1234567890.1234")
        product.attributes = {"color": "green", "tags": ["a", "b"]}

    with system_session(engine, WHY) as s:
        product = s.get_one(Product, product_id)
        assert product.price == Decimal("1234567890.1234")
        assert product.attributes == {"color": "green", "tags": ["a", "b"]}
        s.delete(s.get_one(StockLevel, stock_id))

    with system_session(engine, WHY) as s:
        assert s.get(StockLevel, stock_id) is None
        assert s.scalar(select(func.count()).select_from(Product)) == 1


#: Tables that are deliberately not tenant-owned: tenants themselves and user accounts, which may
#: belong to several tenants through ``memberships`` (which is tenant-owned and checked here), with
#: what hangs off an account (sign-in sessions, MFA recovery codes) and keys that belong to no tenant.
GLOBAL_TABLES = {
    "tenants",
    "users",
    "user_sessions",
    "mfa_recovery_codes",
    "system_keys",
    "alembic_version",
    # Sign-in attempts per (e-mail digest, address): accounts are platform-wide (security.throttle).
    "login_throttle",
}


def test_every_tenant_owned_table_has_a_not_null_tenant_id_fk(engine: Engine) -> None:
    inspector = inspect(engine)
    tables = set(inspector.get_table_names()) - GLOBAL_TABLES
    assert tables, "no tables found"
    for table in sorted(tables):
        columns = {c["name"]: c for c in inspector.get_columns(table)}
        assert "tenant_id" in columns, f"{table} has no tenant_id"
        assert columns["tenant_id"]["nullable"] is False, f"{table}.tenant_id is nullable"
        fks = [
            fk
            for fk in inspector.get_foreign_keys(table)
            if fk["constrained_columns"] == ["tenant_id"] and fk["referred_table"] == "tenants"
        ]
        assert fks, f"{table}.tenant_id does not reference tenants"
        assert (fks[0].get("options") or {}).get("ondelete", "").upper() == "CASCADE", table


def test_tenant_slug_is_unique(engine: Engine) -> None:
    _tenant(engine, "acme")
    with pytest.raises(IntegrityError), system_session(engine, WHY) as s:
        s.add(Tenant(slug="acme", name="Another", timezone="UTC", currency="USD"))


def test_sku_is_unique_per_tenant_only(engine: Engine) -> None:
    first, second = _tenant(engine, "acme"), _tenant(engine, "globex")
    _catalogue(engine, first)
    with system_session(
        engine, "model test: rows of several tenants"
    ) as s:  # same SKU in another tenant is fine
        s.add(Product(tenant_id=second, sku="SKU-1", name="Other", price=Decimal(1), currency="USD"))
    with pytest.raises(IntegrityError), system_session(engine, WHY) as s:
        s.add(Product(tenant_id=first, sku="SKU-1", name="Dup", price=Decimal(1), currency="CNY"))


def test_tenant_id_is_required(engine: Engine) -> None:
    with pytest.raises(IntegrityError), system_session(engine, WHY) as s:
        s.add(Warehouse(code="X", name="No tenant"))


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), system_session(engine, WHY) as s:
        s.add(Warehouse(tenant_id="tn_does_not_exist", code="X", name="Orphan"))


def test_deleting_a_tenant_cascades_to_everything_it_owns(engine: Engine) -> None:
    doomed, kept = _tenant(engine, "doomed"), _tenant(engine, "kept")
    _catalogue(engine, doomed)
    _catalogue(engine, kept)
    with system_session(engine, WHY) as s:
        s.execute(delete(Tenant).where(Tenant.id == doomed))
    with system_session(engine, WHY) as s:
        for model in (Product, Warehouse, StockLevel):
            owners = set(s.scalars(select(model.tenant_id)))
            assert owners == {kept}, model.__tablename__


def test_deleting_a_product_cascades_to_its_stock_levels(engine: Engine) -> None:
    tenant_id = _tenant(engine, "acme")
    product_id, warehouse_id, _ = _catalogue(engine, tenant_id)
    with system_session(engine, WHY) as s:
        s.execute(delete(Product).where(Product.id == product_id))
    with system_session(engine, WHY) as s:
        assert s.scalar(select(func.count()).select_from(StockLevel)) == 0
        assert s.get(Warehouse, warehouse_id) is not None


def test_stock_level_is_unique_per_product_and_warehouse(engine: Engine) -> None:
    tenant_id = _tenant(engine, "acme")
    product_id, warehouse_id, _ = _catalogue(engine, tenant_id)
    with pytest.raises(IntegrityError), system_session(engine, WHY) as s:
        s.add(StockLevel(tenant_id=tenant_id, product_id=product_id, warehouse_id=warehouse_id))
    with system_session(
        engine, "model test: rows of several tenants"
    ) as s:  # the row that exists is unchanged by the failed insert
        assert s.execute(update(StockLevel).values(reserved=1)).rowcount == 1  # type: ignore[attr-defined]


def test_timestamps_come_back_as_aware_utc(engine: Engine) -> None:
    """SQLite would otherwise store wall-clock text and return naive values (see UTCDateTime)."""
    shanghai = timezone(timedelta(hours=8))
    created = datetime(2026, 11, 11, 0, 30, tzinfo=shanghai)  # Singles' Day midnight in Shanghai
    with system_session(engine, WHY) as s:
        tenant = Tenant(
            slug="acme", name="Acme", timezone="Asia/Shanghai", currency="CNY", created_at=created
        )
        s.add(tenant)
    with system_session(engine, WHY) as s:
        loaded = s.get_one(Tenant, tenant.id).created_at
    assert loaded == created
    assert loaded.tzinfo is not None and loaded.utcoffset() == timedelta(0)
    assert loaded.isoformat() == "2026-11-10T16:30:00+00:00"
    with (
        pytest.raises(StatementError, match="naive datetime"),
        system_session(engine, WHY) as s,
    ):
        s.add(Tenant(slug="naive", name="Naive", created_at=datetime(2026, 1, 1)))
