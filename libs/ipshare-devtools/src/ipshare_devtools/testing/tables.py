"""Tables for tests: a service's migrations, as its start-up applies them, or plain `create_all`
for a test of one table's behaviour (quicker, and enough there)."""

from __future__ import annotations

from typing import Any

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.database import blocking_engine, open_engine
from ipshare.schema import Schema, migrate

library_schema = Schema("ipshare", versions=None)  # the tables every service has, and no others


async def migrated_engine(database_url: str, schema: Schema = library_schema) -> AsyncEngine:
    """An engine on the database after the schema's migrations."""
    await migrate(database_url, schema)
    return open_engine(database_url)


async def engine_with_tables(database_url: str, *metadata: MetaData) -> AsyncEngine:
    """An engine on the database with the given tables created from their metadata."""
    engine = open_engine(database_url)
    async with engine.begin() as conn:
        for tables in metadata:
            await conn.run_sync(tables.create_all)
    return engine


def schema_differences(database_url: str, schema: Schema) -> list[Any]:
    """What the database lacks or has beyond the schema's tables, by Alembic's autogenerate:
    tables, columns, types, nullability, defaults, indexes and constraints. Empty when they agree."""
    engine = blocking_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            opts = {"version_table": schema.version_table, "compare_type": True, "compare_server_default": True}
            context = MigrationContext.configure(connection, opts=opts)
            differences: list[Any] = compare_metadata(context, schema.target_metadata())
            return differences
    finally:
        engine.dispose()


async def table_ids(database_url: str) -> dict[str, int]:
    """Each table's name and object id: a table dropped and made again gets a new id."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT relname, oid FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        )
    finally:
        await conn.close()
    return {row["relname"]: row["oid"] for row in rows}
