"""Bulk loads on the real PostgreSQL: indexes built after the load, and nothing lost on failure."""

from __future__ import annotations

import asyncpg
import pytest

from ipshare.database import indexes_built_after

pytestmark = pytest.mark.integration

TABLE = "CREATE TABLE facts (seq bigint PRIMARY KEY, fact_id text NOT NULL UNIQUE, kind text NOT NULL)"
CONSTRAINTS = (
    "SELECT conname, contype FROM pg_constraint WHERE conrelid = 'facts'::regclass AND contype IN ('p', 'u')"
    " ORDER BY conname"
)


async def test_the_constraints_come_back_after_the_load_and_hold(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute(TABLE)
        before = await conn.fetch(CONSTRAINTS)
        async with conn.transaction(), indexes_built_after(conn, "facts"):
            assert await conn.fetch(CONSTRAINTS) == []  # the load goes into a bare table
            await conn.copy_records_to_table("facts", records=[(n, f"f{n}", "receipt") for n in range(1, 1001)])

        assert await conn.fetch(CONSTRAINTS) == before
        assert await conn.fetchval("SELECT count(*) FROM facts") == 1000
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO facts VALUES (1001, 'f1', 'receipt')")
    finally:
        await conn.close()


async def test_a_failed_load_leaves_the_table_as_it_was(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute(TABLE)
        before = await conn.fetch(CONSTRAINTS)
        with pytest.raises(asyncpg.UniqueViolationError):  # the duplicate is caught when the index is built
            async with conn.transaction(), indexes_built_after(conn, "facts"):
                await conn.copy_records_to_table("facts", records=[(1, "f1", "receipt"), (2, "f1", "receipt")])

        assert await conn.fetch(CONSTRAINTS) == before
        assert await conn.fetchval("SELECT count(*) FROM facts") == 0
    finally:
        await conn.close()
