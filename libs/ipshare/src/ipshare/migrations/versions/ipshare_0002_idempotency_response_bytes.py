"""Idempotency answers as bytes: an earlier version kept them as jsonb, which cannot hold every
answer (a NUL character) and into which the current code cannot write. Stored answers are kept,
as the text of their JSON.

Revision ID: ipshare_0002
Revises: ipshare_0001
"""

from __future__ import annotations

from alembic import op

from ipshare.migrations import column_type

revision = "ipshare_0002"
down_revision = "ipshare_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if column_type("idempotency_claims", "response") == "jsonb":
        op.execute(
            "ALTER TABLE idempotency_claims ALTER COLUMN response TYPE bytea USING convert_to(response::text, 'UTF8')"
        )


def downgrade() -> None:
    """Nothing to undo: bytes are what the first revision creates."""
