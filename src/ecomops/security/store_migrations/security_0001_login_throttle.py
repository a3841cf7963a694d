"""security: sign-in attempts counted per (account, client address)

The security module's own Alembic branch (label "security"). Failed sign-ins were counted on the user
row: unknown e-mails were never locked (so lockout told which accounts exist), concurrent guesses all
passed the check before any was counted, and anyone could keep an owner locked out from anywhere. The
count moves to ``login_throttle``, keyed by a digest of the e-mail as typed (known or not) and the
client address, and the user row's counters go.

Revision ID: security_0001
Revises:
Create Date: 2026-12-07 21:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "security_0001"
down_revision = None
branch_labels = ("security",)
depends_on = "0009"


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locks", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", "ip"),
    )
    op.create_index("ix_login_throttle_updated_at", "login_throttle", ["updated_at"])
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("ix_login_throttle_updated_at", table_name="login_throttle")
    op.drop_table("login_throttle")
