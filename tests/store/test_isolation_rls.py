"""Tenant isolation in the operational store, proven from both sides.

PostgreSQL row-level security, with raw SQL through psycopg as the ordinary application role (a
superuser would bypass every policy and prove nothing): with ``app.tenant_id`` = A, another tenant's
rows cannot be seen, updated, deleted or inserted in any tenant table; with no setting nothing is
visible; and the catalogue shows every table with a tenant id protected, so a future table cannot
forget. The session layer (``store.scoping``) on SQLite and PostgreSQL: unscoped access raises,
``tenant_session`` confines even unfiltered queries, ``system_session`` sees everything.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from psycopg import sql
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.orm import Session

from ecomops.imports.models import ImportJob
from ecomops.platform.audit import record
from ecomops.platform.store.db import make_engine, session_scope
from ecomops.platform.store.migrate import upgrade
from ecomops.platform.store.models import AuditRecord, Base, Tenant
from ecomops.platform.store.rls import role_bypasses_rls, tables_without_rls
from ecomops.platform.store.scoping import (
    TenantScopeError,
    system_connection,
    system_session,
    tenant_connection,
    tenant_session,
    tenant_tables,
)
from ecomops.products.models import Product, StockLevel, Warehouse
from ecomops.security.models import Membership, User
from ecomops.tenancy.models import ApiKey, Source
from tests.backends import APP_ROLE

#: Tenant tables at revision 0003 (covered by migration 0004) and their tenant column; each gets
#: one row per tenant below so every check has something to hide.
SEEDED = {
    "tenants": "id",
    "sources": "tenant_id",
    "products": "tenant_id",
    "warehouses": "tenant_id",
    "stock_levels": "tenant_id",
    "api_keys": "tenant_id",
    "import_jobs": "tenant_id",
    "audit_log": "tenant_id",
    "memberships": "tenant_id",
}
MODELS: dict[str, type[Base]] = {
    "tenants": Tenant,
    "sources": Source,
    "products": Product,
    "warehouses": Warehouse,
    "stock_levels": StockLevel,
    "api_keys": ApiKey,
    "import_jobs": ImportJob,
    "audit_log": AuditRecord,
    "memberships": Membership,
}


@dataclass(frozen=True)
class Two:
    a: str
    b: str
    #: table → id of tenant B's row in it
    b_rows: dict[str, str]


def _seed_tenant(s: Session, slug: str, user: User) -> dict[str, str]:
    tenant = Tenant(id=f"tn_{slug}", slug=slug, name=slug.title(), timezone="UTC", currency="USD")
    s.add(tenant)
    s.flush()
    tid = tenant.id
    product = Product(tenant_id=tid, sku="SKU-1", name="Tea", price=Decimal("9.5"), currency="USD")
    warehouse = Warehouse(tenant_id=tid, code="W1", name="Main")
    source = Source(
        tenant_id=tid,
        name="site",
        channel="web",
        write_key_hash=f"wk-{slug}".ljust(64, "0"),
        write_key_prefix="wk",
    )
    key = ApiKey(
        tenant_id=tid, name="ops", role="admin", key_hash=f"ak-{slug}".ljust(64, "0"), key_prefix="eco"
    )
    job = ImportJob(tenant_id=tid, preset="generic", files=["a.csv"], status="queued")
    member = Membership(tenant_id=tid, user_id=user.id, role="owner")
    s.add_all([product, warehouse, source, key, job, member])
    s.flush()
    level = StockLevel(tenant_id=tid, product_id=product.id, warehouse_id=warehouse.id, on_hand=5)
    s.add(level)
    s.flush()
    entry = record(s, tid, "tester", "seed", "tenant", tid)
    return {
        "tenants": tid,
        "sources": source.id,
        "products": product.id,
        "warehouses": warehouse.id,
        "stock_levels": level.id,
        "api_keys": key.id,
        "import_jobs": job.id,
        "audit_log": entry.id,
        "memberships": member.id,
    }


def seed_two(engine: Engine) -> Two:
    with system_session(engine, "test fixture: two tenants with a row in every tenant table") as s:
        user = User(email="both@example.com", password_hash="x")
        s.add(user)
        s.flush()
        a_rows = _seed_tenant(s, "alpha", user)
        b_rows = _seed_tenant(s, "beta", user)
    return Two(a_rows["tenants"], b_rows["tenants"], b_rows)


@pytest.fixture
def pg_url(pg_schema_url: str) -> str:
    """The test schema as the application role, migrated to head (migrations run as that role too)."""
    engine = make_engine(pg_schema_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return pg_schema_url


@pytest.fixture
def pg_two(pg_url: str) -> Iterator[tuple[str, Two]]:
    engine = make_engine(pg_url)
    try:
        yield pg_url, seed_two(engine)
    finally:
        engine.dispose()


def _raw(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """A plain psycopg connection: no SQLAlchemy, no ecomops code between the test and the database."""
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def _as_tenant(conn: psycopg.Connection[tuple[Any, ...]], tenant_id: str) -> None:
    conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant_id,))


def _count(conn: psycopg.Connection[tuple[Any, ...]], table: str, where: str = "", *args: Any) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    if where:
        query = query + sql.SQL(" WHERE ") + sql.SQL(where)  # type: ignore[operator]
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return int(row[0])


def _count_all_bypassed(url: str, table: str, column: str, tenant_id: str) -> int:
    with _raw(url) as conn:
        conn.execute("SELECT set_config('app.rls_bypass', 'on', true)")
        where = sql.SQL("{} = %s").format(sql.Identifier(column))
        return _count(conn, table, where.as_string(conn), tenant_id)


# --- PostgreSQL: the policies, through raw SQL as the application role -----------------------------


@pytest.mark.postgres
def test_the_app_role_is_subject_to_row_level_security(pg_url: str) -> None:
    """Without this the rest proves nothing: superusers and BYPASSRLS roles skip every policy."""
    with _raw(pg_url) as conn:
        row = conn.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert row.fetchone() == (APP_ROLE, False, False)


@pytest.mark.postgres
@pytest.mark.parametrize("table", sorted(SEEDED))
def test_other_tenants_rows_cannot_be_read_changed_or_deleted(pg_two: tuple[str, Two], table: str) -> None:
    url, two = pg_two
    column = SEEDED[table]
    col = sql.Identifier(column)
    tbl = sql.Identifier(table)
    b_before = _count_all_bypassed(url, table, column, two.b)
    assert b_before >= 1, "tenant B needs a row here for the test to mean anything"
    with _raw(url) as conn:
        _as_tenant(conn, two.a)
        assert _count(conn, table, f"{column} = %s", two.b) == 0
        assert _count(conn, table, "id = %s", two.b_rows[table]) == 0
        visible = conn.execute(sql.SQL("SELECT DISTINCT {} FROM {}").format(col, tbl)).fetchall()
        assert visible == [(two.a,)]
        updated = conn.execute(
            sql.SQL("UPDATE {} SET {} = {} WHERE {} = %s").format(tbl, col, col, col), (two.b,)
        ).rowcount
        assert updated == 0
        deleted = conn.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(tbl, col), (two.b,)).rowcount
        assert deleted == 0
        conn.commit()
    assert _count_all_bypassed(url, table, column, two.b) == b_before


@pytest.mark.postgres
@pytest.mark.parametrize("table", sorted(SEEDED))
def test_rows_cannot_be_written_with_another_tenants_id(pg_two: tuple[str, Two], table: str) -> None:
    """INSERT of a copy of B's row, and UPDATE moving A's row to B, both violate WITH CHECK."""
    url, two = pg_two
    column = SEEDED[table]
    with _raw(url) as conn:
        conn.execute("SELECT set_config('app.rls_bypass', 'on', true)")
        cur = conn.execute(
            sql.SQL("SELECT * FROM {} WHERE id = %s").format(sql.Identifier(table)), (two.b_rows[table],)
        )
        names = [d.name for d in cur.description or []]
        b_row = dict(zip(names, cur.fetchone() or (), strict=True))
    assert b_row, f"no row of tenant B in {table}"
    copy = {**b_row, "id": "copy_" + str(b_row["id"])[:20]}
    if table == "tenants":
        copy["slug"] = "copy-beta"  # the copy *is* a new tenant id that is not A
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(n) for n in copy),
        sql.SQL(", ").join(sql.Placeholder() for _ in copy),
    )
    with _raw(url) as conn:
        _as_tenant(conn, two.a)
        values = [psycopg.types.json.Jsonb(v) if isinstance(v, (dict, list)) else v for v in copy.values()]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(insert, values)
    with _raw(url) as conn:
        _as_tenant(conn, two.a)
        move = sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s").format(
            sql.Identifier(table), sql.Identifier(column), sql.Identifier(column)
        )
        if table == "tenants":
            # Tenant A's own row cannot be re-keyed to B either (its children's FKs aside).
            move = sql.SQL("UPDATE tenants SET id = %s WHERE id = %s")
        with pytest.raises(
            (psycopg.errors.InsufficientPrivilege, psycopg.errors.ForeignKeyViolation),
            match=r"row-level security|foreign key",
        ):
            conn.execute(move, (two.b, two.a))


@pytest.mark.postgres
def test_without_a_tenant_setting_nothing_is_visible(pg_two: tuple[str, Two]) -> None:
    url, two = pg_two
    tables = sorted(tenant_tables())
    with _raw(url) as conn:
        for table in tables:
            assert _count(conn, table) == 0, f"{table} shows rows to a connection with no tenant set"
        # The setting is transaction-local: a committed tenant transaction leaves nothing behind on
        # the (pooled) connection, so the next transaction is blind again.
        _as_tenant(conn, two.a)
        assert _count(conn, "products") == 1
        conn.commit()
        for table in tables:
            assert _count(conn, table) == 0, f"{table}: app.tenant_id leaked past COMMIT"
        assert conn.execute("SELECT current_setting('app.tenant_id', true)").fetchone() in {(None,), ("",)}


@pytest.mark.postgres
def test_every_table_with_a_tenant_id_has_forced_row_level_security(pg_url: str) -> None:
    """Catalogue check: a new table with tenant_id whose migration forgot enable_tenant_rls fails here."""
    with _raw(pg_url) as conn:
        rows = conn.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
              AND (c.relname = 'tenants' OR EXISTS (
                   SELECT 1 FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
            """
        ).fetchall()
    found = {name: (enabled, forced, policies) for name, enabled, forced, policies in rows}
    assert set(found) == set(tenant_tables()), "the session guard and the database disagree on tenant tables"
    assert set(SEEDED) <= set(found)
    unprotected = {name: state for name, state in found.items() if state[:2] != (True, True) or state[2] < 1}
    assert unprotected == {}, (
        f"tenant tables without ENABLE+FORCE row-level security and a policy: {unprotected}"
    )
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert tables_without_rls(conn) == []
            assert role_bypasses_rls(conn) == {"role": APP_ROLE, "superuser": False, "bypassrls": False}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_table_without_rls_is_reported(pg_url: str) -> None:
    """``tables_without_rls`` (used by the catalogue test and ``ecomops doctor``) really detects one."""
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE forgotten (id text PRIMARY KEY, tenant_id text NOT NULL)"))
            assert tables_without_rls(conn) == ["forgotten"]
            conn.execute(text("ALTER TABLE forgotten ENABLE ROW LEVEL SECURITY"))
            assert tables_without_rls(conn) == ["forgotten"]  # enabled but not forced, no policy
            conn.execute(text("ALTER TABLE products NO FORCE ROW LEVEL SECURITY"))
            assert tables_without_rls(conn) == ["forgotten", "products"]
            conn.rollback()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_scoped_sessions_set_the_database_setting(pg_two: tuple[str, Two]) -> None:
    """The ORM filter and RLS agree; a reused tenant_session re-applies the setting after commit."""
    url, two = pg_two
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with tenant_session(engine, two.a) as s:
            seen = s.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar()
            assert seen == two.a
            s.commit()
            # New transaction on the same session: after_begin sets it again.
            assert s.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar() == two.a
            assert s.scalars(select(Product.tenant_id)).all() == [two.a]
        # Same pooled connection, no scope: the database shows nothing.
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM products")).scalar() == 0
        with tenant_connection(engine, two.b) as conn:
            assert conn.execute(text("SELECT tenant_id FROM products")).scalars().all() == [two.b]
        with system_connection(engine, "test: both tenants") as conn:
            assert conn.execute(text("SELECT count(*) FROM products")).scalar() == 2
    finally:
        engine.dispose()


# --- Both backends: the session layer ------------------------------------------------------------


@pytest.fixture
def two(store_engine: Engine) -> Two:
    return seed_two(store_engine)


@pytest.mark.parametrize("table", sorted(SEEDED))
def test_unscoped_sessions_refuse_tenant_tables(store_engine: Engine, two: Two, table: str) -> None:
    model = MODELS[table]
    with (
        pytest.raises(TenantScopeError, match=rf"{table}.*tenant_session.*system_session"),
        session_scope(store_engine) as s,
    ):
        s.scalars(select(model)).all()
    with pytest.raises(TenantScopeError, match=table), session_scope(store_engine) as s:
        s.execute(text(f"SELECT count(*) FROM {table}"))  # Core through a Session counts too
    with pytest.raises(TenantScopeError, match=table), session_scope(store_engine) as s:
        s.execute(delete(model).where(model.id == two.b_rows[table]))  # type: ignore[attr-defined]
    with system_session(store_engine, "test: the refused delete did not run") as s:
        assert s.get(model, two.b_rows[table]) is not None


def test_unscoped_flush_of_a_tenant_row_is_refused(store_engine: Engine, two: Two) -> None:
    with pytest.raises(TenantScopeError, match=r"warehouses"), session_scope(store_engine) as s:
        s.add(Warehouse(tenant_id=two.a, code="W9", name="Unscoped"))
    # Tables without a tenant stay usable from a plain session.
    with session_scope(store_engine) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize("table", sorted(SEEDED))
def test_tenant_session_sees_only_its_rows_without_a_filter(
    store_engine: Engine, two: Two, table: str
) -> None:
    model = MODELS[table]
    column = getattr(model, SEEDED[table])
    with tenant_session(store_engine, two.a) as s:
        assert set(s.scalars(select(column)).all()) == {two.a}
        assert s.get(model, two.b_rows[table]) is None
        assert s.scalar(select(func.count()).select_from(model).where(column == two.b)) == 0
        # A join through the tenant row is filtered on both sides.
        if table != "tenants":
            assert s.scalar(select(func.count()).select_from(model).join(Tenant, Tenant.id == column)) >= 1
    with system_session(store_engine, "test: both tenants visible") as s:
        assert set(s.scalars(select(column)).all()) == {two.a, two.b}


def test_tenant_session_bulk_update_and_delete_touch_only_its_rows(store_engine: Engine, two: Two) -> None:
    with tenant_session(store_engine, two.a) as s:
        assert s.execute(update(Product).values(name="renamed")).rowcount == 1  # type: ignore[attr-defined]
        assert s.execute(delete(StockLevel)).rowcount == 1  # type: ignore[attr-defined]
    with system_session(store_engine, "test: check B untouched") as s:
        names = {t: n for t, n in s.execute(select(Product.tenant_id, Product.name))}
        assert names == {two.a: "renamed", two.b: "Tea"}
        assert s.scalars(select(StockLevel.tenant_id)).all() == [two.b]


def test_tenant_session_refuses_writes_for_another_tenant(store_engine: Engine, two: Two) -> None:
    with (
        pytest.raises(TenantScopeError, match=r"insert Warehouse.*tn_beta.*tenant_session\('tn_alpha'\)"),
        tenant_session(store_engine, two.a) as s,
    ):
        s.add(Warehouse(tenant_id=two.b, code="W9", name="Smuggled"))
    with pytest.raises(TenantScopeError, match=r"update Product"), tenant_session(store_engine, two.a) as s:
        product = s.scalars(select(Product)).one()
        product.tenant_id = two.b
    with (
        pytest.raises(TenantScopeError, match=r"UPDATE on products sets tenant_id='tn_beta'"),
        tenant_session(store_engine, two.a) as s,
    ):
        s.execute(update(Product).values(tenant_id=two.b))
    with pytest.raises(TenantScopeError, match="non-ORM statement"), tenant_session(store_engine, two.a) as s:
        s.execute(text("SELECT * FROM products"))
    with (
        pytest.raises(TenantScopeError, match=r"audit record 'x' for tenant 'tn_beta'"),
        tenant_session(store_engine, two.a) as s,
    ):
        record(s, two.b, "tester", "x", "thing", "1")
    with system_session(store_engine, "test: nothing was written") as s:
        assert s.scalar(select(func.count()).select_from(Warehouse)) == 2
        assert sorted(s.scalars(select(Product.tenant_id))) == [two.a, two.b]


def test_scoped_sessions_need_a_tenant_or_a_reason(store_engine: Engine) -> None:
    with pytest.raises(ValueError, match="non-empty tenant id"), tenant_session(store_engine, ""):
        pass
    with pytest.raises(ValueError, match="reason"), system_session(store_engine, "  "):
        pass


_ID_CHARS = string.ascii_letters + string.digits + "_-"


@hyp_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_ids_of_tenant_b_are_invisible_to_tenant_a(
    store_engine: Engine, two: Two, data: st.DataObject
) -> None:
    """Any id of B's — existing rows or new ones with generated ids — resolves to nothing for A."""
    table = data.draw(st.sampled_from(sorted(SEEDED)), label="table")
    model = MODELS[table]
    ident = model.id  # type: ignore[attr-defined]
    existing = two.b_rows[table]
    new_id = data.draw(st.text(_ID_CHARS, min_size=1, max_size=30), label="new product id")
    with system_session(store_engine, "test: a product of B with a generated id") as s:
        if s.get(Product, new_id) is None:
            s.add(
                Product(
                    id=new_id,
                    tenant_id=two.b,
                    sku=f"gen-{new_id}",
                    name="g",
                    price=Decimal(1),
                    currency="USD",
                )
            )
    try:
        with tenant_session(store_engine, two.a) as s:
            assert s.get(model, existing) is None
            assert s.scalars(select(model).where(ident == existing)).all() == []
            assert s.get(Product, new_id) is None
            assert s.scalars(select(Product).where(Product.id.in_([new_id, existing]))).all() == []
            assert s.execute(update(Product).where(Product.id == new_id).values(name="x")).rowcount == 0  # type: ignore[attr-defined]
    finally:
        with system_session(store_engine, "test: clean up the generated product") as s:
            s.execute(delete(Product).where(Product.id == new_id, Product.tenant_id == two.b))


def test_an_expired_tenant_column_does_not_block_a_legitimate_update(store_engine: Engine, two: Two) -> None:
    """The flush check reloads an expired tenant_id (through the tenant filter) instead of refusing."""
    with tenant_session(store_engine, two.a) as s:
        product = s.scalars(select(Product)).one()
        s.expire(product, ["tenant_id"])
        product.name = "renamed"
    with tenant_session(store_engine, two.a) as s:
        assert s.scalars(select(Product.name)).all() == ["renamed"]
