"""security: invitations instead of adding any platform account by e-mail

Adding a member by e-mail answered 404 for addresses without an account, so any admin could learn
which e-mails have accounts on the platform (other tenants' people). Members now join by accepting
an invitation; this table holds them: the invited e-mail (normalised, as ``users.email``), the role,
who invited, the SHA-256 of the link's token, and when it expires, was accepted or revoked.

Revision ID: security_0002
Revises: security_0001
Create Date: 2026-12-07 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecomops.platform.store.rls import disable_tenant_rls, enable_tenant_rls

revision = "security_0002"
down_revision = "security_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("invited_by", sa.String(length=200), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    op.create_index("ix_invitations_tenant_created", "invitations", ["tenant_id", "created_at"])
    op.create_index("ix_invitations_tenant_email", "invitations", ["tenant_id", "email"])
    # PostgreSQL: the database refuses other tenants' rows too (a no-op on SQLite).
    enable_tenant_rls(op, "invitations")


def downgrade() -> None:
    disable_tenant_rls(op, "invitations")
    op.drop_index("ix_invitations_tenant_email", table_name="invitations")
    op.drop_index("ix_invitations_tenant_created", table_name="invitations")
    op.drop_table("invitations")
