"""tenancy: write-key rotation with an overlap

The tenancy module's own Alembic branch (label "tenancy"). A rotated source keeps its previous key's
hash until ``previous_key_expires_at``, so SDKs already shipped with the old key keep delivering while
the new one rolls out.

Revision ID: tenancy_0001
Revises:
Create Date: 2026-12-07 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tenancy_0001"
down_revision = None
branch_labels = ("tenancy",)
depends_on = "0009"


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("previous_key_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("previous_key_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_sources_previous_key_hash", ["previous_key_hash"])


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_constraint("uq_sources_previous_key_hash", type_="unique")
        batch.drop_column("previous_key_expires_at")
        batch.drop_column("previous_key_hash")
