"""The library's tables in every service's database: the followers' positions, parked events,
the consumers' marks, idempotency claims and the audit chain. Each is created only where it is
missing, so a database the services' start-up made before migrations is taken over as it is.

Revision ID: ipshare_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ipshare.migrations import create_missing_table

revision = "ipshare_0001"
down_revision = None
branch_labels = ("ipshare",)
depends_on = None

TABLES = (
    "follower_positions",
    "parked_events",
    "consumer_applied_marks",
    "consumer_released_events",
    "idempotency_claims",
    "audit_chain",
)


def upgrade() -> None:
    create_missing_table(
        "follower_positions",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )
    create_missing_table(
        "parked_events",
        sa.Column("topic", sa.String(), primary_key=True),
        sa.Column("position", sa.BigInteger(), primary_key=True),
        sa.Column("aggregate_id", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retry_requested", sa.Boolean(), nullable=False),
        sa.Index("ix_parked_events_aggregate_id", "aggregate_id"),
    )
    _consumer_tables()
    create_missing_table(
        "idempotency_claims",
        sa.Column("caller", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("request_sha256", sa.LargeBinary(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("response", sa.LargeBinary()),
        sa.Column("headers", postgresql.JSONB()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    create_missing_table(
        "audit_chain",
        sa.Column("position", sa.BigInteger(), primary_key=True),
        sa.Column("notification_id", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("originator_id", sa.String(), nullable=False),
        sa.Column("originator_version", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("originator_id", "originator_version"),
    )


def _consumer_tables() -> None:
    create_missing_table(
        "consumer_applied_marks",
        sa.Column("consumer", sa.String(), primary_key=True),
        sa.Column("topic", sa.String(), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )
    create_missing_table(
        "consumer_released_events",
        sa.Column("consumer", sa.String(), primary_key=True),
        sa.Column("event_id", sa.String(), primary_key=True),
    )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
