"""hello: notes per shop

The first revision of the hello module's own Alembic branch (label "hello"). It does not continue the
platform's history; it depends on the platform revision that made what it needs (``tenants``), so
the platform and every module's branch upgrade together, each at its own pace.

Revision ID: hello_0001
Revises:
Create Date: 2026-12-10 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecomops.platform.store.rls import disable_tenant_rls, enable_tenant_rls

revision = "hello_0001"
down_revision = None
branch_labels = ("hello",)
depends_on = "0009"


def upgrade() -> None:
    op.create_table(
        "hello_notes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hello_notes_tenant_created", "hello_notes", ["tenant_id", "created_at"])
    # PostgreSQL: the database refuses other tenants' rows too (a no-op on SQLite).
    enable_tenant_rls(op, "hello_notes")


def downgrade() -> None:
    disable_tenant_rls(op, "hello_notes")
    op.drop_index("ix_hello_notes_tenant_created", table_name="hello_notes")
    op.drop_table("hello_notes")
