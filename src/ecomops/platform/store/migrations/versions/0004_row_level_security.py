"""row-level security policies on tenant tables (PostgreSQL)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 16:40:00.000000

Enables and forces row-level security with the ``tenant_isolation`` policy (``store.rls``) on every
table that exists at revision 0003 and belongs to a tenant; ``tenants`` is keyed on its own ``id``.
A no-op on SQLite. Tables created by later migrations call ``enable_tenant_rls`` themselves.
"""

from __future__ import annotations

from ecomops.platform.store.rls import disable_tenant_rls, enable_tenant_rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: Tenant tables at revision 0003 and the column holding their tenant id.
TABLES = (
    ("tenants", "id"),
    ("sources", "tenant_id"),
    ("products", "tenant_id"),
    ("warehouses", "tenant_id"),
    ("stock_levels", "tenant_id"),
    ("api_keys", "tenant_id"),
    ("import_jobs", "tenant_id"),
    ("audit_log", "tenant_id"),
    ("memberships", "tenant_id"),
)


def upgrade() -> None:
    for table, column in TABLES:
        enable_tenant_rls(table, column)


def downgrade() -> None:
    for table, _column in reversed(TABLES):
        disable_tenant_rls(table)
