"""Fact bodies are a json column; the migrations turn an inbox an earlier version made with jsonb
into json, and its facts are kept."""

from __future__ import annotations

import asyncpg
import pytest

from ipshare_devtools.testing.tables import migrated_engine, schema_differences
from revenue_share.adapters.inbox import facts_after
from revenue_share.migrations import schema

from .conftest import ASSET, learn, slice_events

pytestmark = pytest.mark.integration


async def test_an_inbox_made_with_jsonb_bodies_becomes_json_keeps_its_facts_and_learns_as_before(
    fresh_database: str,
) -> None:
    conn = await asyncpg.connect(fresh_database)
    await conn.execute(
        "CREATE TABLE facts (seq bigserial PRIMARY KEY, fact_id varchar NOT NULL UNIQUE, kind varchar NOT NULL,"
        " body jsonb NOT NULL, source_topic varchar NOT NULL, source_position bigint NOT NULL,"
        " recorded_at timestamptz NOT NULL DEFAULT clock_timestamp())"
    )
    await conn.execute(
        "INSERT INTO facts (fact_id, kind, body, source_topic, source_position)"
        " VALUES ('earlier', 'member', '{\"member_id\": \"m-0\"}', 'ip-registry', 0)"
    )
    await conn.close()
    engine = await migrated_engine(fresh_database, schema)
    try:
        assert schema_differences(fresh_database, schema) == []  # body is json now
        await learn(engine, slice_events())
        async with engine.connect() as connection:
            rows = await facts_after(connection, 0)
    finally:
        await engine.dispose()

    assert [row.kind for row in rows] == ["member", "member", "member", "inventors", "ownership", "receipt"]
    assert rows[0].body == {"member_id": "m-0"}
    assert rows[-1].body["amount"] == 1_000_001
    assert rows[-1].body["asset_ids"] == [ASSET]
