"""The inbox of facts revenue-share learns from the other services' topics. Created only where
missing (the service's start-up made it before migrations).

Revision ID: revenue_share_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ipshare.migrations import create_missing_table

revision = "revenue_share_0001"
down_revision = None
branch_labels = ("revenue_share",)
depends_on = None


def upgrade() -> None:
    create_missing_table(
        "facts",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("fact_id", sa.String(), nullable=False, unique=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("source_topic", sa.String(), nullable=False),
        sa.Column("source_position", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
    )


def downgrade() -> None:
    op.drop_table("facts")
