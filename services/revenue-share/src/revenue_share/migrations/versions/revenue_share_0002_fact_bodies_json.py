"""Fact bodies as json: an earlier version kept them as jsonb. A body is only ever written and read
whole, and json costs PostgreSQL a quarter less to take in (a replay COPYs a million of them).
The facts are kept; this rewrites the table once.

Revision ID: revenue_share_0002
Revises: revenue_share_0001
"""

from __future__ import annotations

from alembic import op

from ipshare.migrations import column_type

revision = "revenue_share_0002"
down_revision = "revenue_share_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if column_type("facts", "body") == "jsonb":
        op.execute("ALTER TABLE facts ALTER COLUMN body TYPE json USING body::json")


def downgrade() -> None:
    """Nothing to undo: json is what the first revision creates."""
