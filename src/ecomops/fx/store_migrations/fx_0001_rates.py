"""fx: dated exchange rates per tenant

The fx module's own Alembic branch (label "fx"). A shop that imports orders in another currency (GBP
data in a CNY shop) showed ¥0.00 and 0 orders: reports now convert with the rate in effect on each
order's local day, taken from this table.

Revision ID: fx_0001
Revises:
Create Date: 2026-12-08 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecomops.platform.store.rls import disable_tenant_rls, enable_tenant_rls

revision = "fx_0001"
down_revision = None
branch_labels = ("fx",)
depends_on = "0009"


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("rate", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "currency", "valid_from"),
    )
    # PostgreSQL: the database refuses other tenants' rows too (a no-op on SQLite).
    enable_tenant_rls(op, "fx_rates")


def downgrade() -> None:
    disable_tenant_rls(op, "fx_rates")
    op.drop_table("fx_rates")
