"""security: each person's colour of a rise (red in the A-share convention, green in the Western one)

The console colours changes by direction: in zh-CN a rise is red and a fall green, in English the
reverse. ``users.rise_colour`` holds a person's own choice (``red`` or ``green``); NULL follows the
language they read the console in.

Revision ID: security_0003
Revises: security_0002
Create Date: 2026-12-08 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "security_0003"
down_revision = "security_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("rise_colour", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("rise_colour")
