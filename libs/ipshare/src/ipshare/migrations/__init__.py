"""Alembic's environment and the library's own migration history (branch `ipshare`).

`ipshare.schema` runs them; the scripts in `versions/` import only this module's helpers, so
a migration keeps describing the tables as they were when it was written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op


def create_missing_table(name: str, *elements: sa.Column[Any] | sa.Constraint | sa.Index) -> None:
    """`op.create_table` (with the table's indexes), unless the table is there already: a database
    made before migrations, by the services' start-up, has the first migrations' tables, and those
    migrations leave them as they are."""
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *elements)


def column_type(table: str, column: str) -> str:
    """The column's type as PostgreSQL names it (`jsonb`, `bytea`, ...)."""
    found = op.get_bind().scalar(
        sa.text(
            "SELECT data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = :table AND column_name = :column"
        ),
        {"table": table, "column": column},
    )
    return str(found)
