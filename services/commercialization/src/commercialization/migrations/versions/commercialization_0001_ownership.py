"""The ownership projection: the registry's assets and who owned them from which date. Created
only where missing (the service's start-up made them before migrations).

Revision ID: commercialization_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ipshare.migrations import create_missing_table

revision = "commercialization_0001"
down_revision = None
branch_labels = ("commercialization",)
depends_on = None


def upgrade() -> None:
    create_missing_table(
        "registry_assets",
        sa.Column("asset_id", sa.String(), primary_key=True),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("source_position", sa.BigInteger(), nullable=False),
    )
    create_missing_table(
        "asset_ownership",
        sa.Column("asset_id", sa.String(), primary_key=True),
        sa.Column("source_position", sa.BigInteger(), primary_key=True),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("owners", postgresql.JSONB(), nullable=False),
        sa.Column("cause", sa.String(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("asset_ownership")
    op.drop_table("registry_assets")
