"""The directory: members, researchers, assets, ownership and licenses learned from the other
services' topics. Created only where missing (the service's start-up made them before migrations).

Revision ID: incubation_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ipshare.migrations import create_missing_table

revision = "incubation_0001"
down_revision = None
branch_labels = ("incubation",)
depends_on = None

TABLES = ("known_members", "known_researchers", "known_assets", "known_ownership", "known_licenses")


def upgrade() -> None:
    create_missing_table(
        "known_members",
        sa.Column("member_id", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("state_established", sa.Boolean(), nullable=False),
        sa.Column("source_position", sa.BigInteger(), nullable=False),
    )
    create_missing_table(
        "known_researchers",
        sa.Column("researcher_id", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("member_id", sa.String(), nullable=False),
        sa.Column("source_position", sa.BigInteger(), nullable=False),
    )
    create_missing_table(
        "known_assets",
        sa.Column("asset_id", sa.String(), primary_key=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("source_position", sa.BigInteger(), nullable=False),
    )
    _effective_dated_tables()


def _effective_dated_tables() -> None:
    create_missing_table(
        "known_ownership",
        sa.Column("asset_id", sa.String(), primary_key=True),
        sa.Column("source_position", sa.BigInteger(), primary_key=True),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("owners", postgresql.JSONB(), nullable=False),
    )
    create_missing_table(
        "known_licenses",
        sa.Column("license_id", sa.String(), primary_key=True),
        sa.Column("asset_ids", postgresql.JSONB(), nullable=False),
        sa.Column("licensee", sa.String(), nullable=False),
        sa.Column("source_position", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
