"""Alembic's environment for every service. There is no alembic.ini: `ipshare.schema` hands over
the open connection, the service's schema and a list that collects the revisions applied."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo

from ipshare.schema import Schema

config = context.config
schema: Schema = config.attributes["schema"]
applied: list[str] = config.attributes["applied"]


def record(ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]) -> None:
    applied.extend(step.up_revision_ids)


context.configure(
    connection=config.attributes["connection"],
    target_metadata=schema.target_metadata(),
    version_table=schema.version_table,
    on_version_apply=record,
)
with context.begin_transaction():
    context.run_migrations()
