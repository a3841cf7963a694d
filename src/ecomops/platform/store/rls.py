"""PostgreSQL row-level security for tenant tables: the database half of tenant isolation.

Each tenant table gets ROW LEVEL SECURITY enabled *and forced* (so the table owner is bound by it
too) and one policy, ``tenant_isolation``::

    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.rls_bypass', true) = 'on')
    WITH CHECK (the same)

``store.scoping`` sets those two settings, transaction-locally, for ``tenant_session`` and
``system_session``. With neither set, ``current_setting(…, true)`` is NULL (or '' once a previous
transaction on the pooled connection set and dropped it) and the policy hides every row.

Superusers and roles with BYPASSRLS ignore every policy, FORCE included, so the application must
connect as an ordinary role (``docs/security.md``, "Tenant isolation"); ``ecomops doctor`` warns
otherwise.

Migrations call :func:`enable_tenant_rls` for each new tenant table; it is a no-op on SQLite.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

POLICY = "tenant_isolation"


def _quote(connection: Connection, name: str) -> str:
    return str(connection.dialect.identifier_preparer.quote(name))


def enable_statements(connection: Connection, table_name: str, column: str = "tenant_id") -> list[str]:
    """The DDL that enables, forces and (re)creates the tenant policy on one table; idempotent."""
    table = _quote(connection, table_name)
    col = _quote(connection, column)
    predicate = (
        f"({col} = current_setting('app.tenant_id', true) OR current_setting('app.rls_bypass', true) = 'on')"
    )
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY} ON {table}",
        f"CREATE POLICY {POLICY} ON {table} USING {predicate} WITH CHECK {predicate}",
    ]


def disable_statements(connection: Connection, table_name: str) -> list[str]:
    table = _quote(connection, table_name)
    return [
        f"DROP POLICY IF EXISTS {POLICY} ON {table}",
        f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
    ]


def _target(first: Any, second: str | None, column: str | None) -> tuple[Any, str, str]:
    """Accept ``(table, column)`` and ``(op, table, column)``: both spellings are in use in migrations."""
    if isinstance(first, str):
        from alembic import op

        return op, first, second or column or "tenant_id"
    if second is None:
        raise TypeError("enable_tenant_rls(op, table_name): the table name is missing")
    return first, second, column or "tenant_id"


def enable_tenant_rls(first: Any, second: str | None = None, column: str | None = None) -> None:
    """From an Alembic migration: protect a table by row-level security on its tenant column.

    ``enable_tenant_rls("orders")``, ``enable_tenant_rls("tenants", "id")`` or
    ``enable_tenant_rls(op, "orders", column="tenant_id")``. Call it right after
    ``op.create_table`` for every table that has a tenant id column (the catalogue test in
    ``tests/store/test_isolation_rls.py`` fails for a table that forgets). A no-op on SQLite.
    """
    operations, table, col = _target(first, second, column)
    connection = operations.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for statement in enable_statements(connection, table, col):
        operations.execute(statement)


def disable_tenant_rls(first: Any, second: str | None = None, column: str | None = None) -> None:
    """From an Alembic downgrade: remove the policy and row-level security (same arguments as enable)."""
    operations, table, _col = _target(first, second, column)
    connection = operations.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for statement in disable_statements(connection, table):
        operations.execute(statement)


def tables_without_rls(connection: Connection) -> list[str]:
    """Tables in the current schema that have a ``tenant_id`` column but lack enabled+forced RLS.

    ``tenants`` (keyed on ``id``) is included. Used by the catalogue test and ``ecomops doctor``.
    """
    rows = connection.execute(
        text(
            """
            SELECT c.relname
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema()
              AND c.relkind IN ('r', 'p')
              AND (c.relname = 'tenants' OR EXISTS (
                    SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
              AND NOT (c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (
                    SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = :policy))
            ORDER BY c.relname
            """
        ),
        {"policy": POLICY},
    )
    return [row[0] for row in rows]


def role_bypasses_rls(connection: Connection) -> dict[str, Any]:
    """The current role and whether it ignores row-level security (superuser or BYPASSRLS)."""
    row = connection.execute(
        text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).one()
    return {"role": row[0], "superuser": bool(row[1]), "bypassrls": bool(row[2])}
