"""Fact bodies are a json column; an inbox an earlier version made with jsonb keeps working."""

from __future__ import annotations

import asyncpg
import pytest

from ipshare.consumer import consumer_metadata
from ipshare.database import open_engine
from revenue_share.adapters.inbox import facts_after, metadata

from .conftest import ASSET, learn, slice_events

pytestmark = pytest.mark.integration


async def test_an_inbox_made_with_jsonb_bodies_learns_and_loads_as_before(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    await conn.execute(
        "CREATE TABLE facts (seq bigserial PRIMARY KEY, fact_id varchar NOT NULL UNIQUE, kind varchar NOT NULL,"
        " body jsonb NOT NULL, source_topic varchar NOT NULL, source_position bigint NOT NULL,"
        " recorded_at timestamptz NOT NULL DEFAULT clock_timestamp())"
    )
    await conn.close()
    engine = await open_engine(fresh_database, metadata, consumer_metadata)  # leaves the existing table be
    try:
        await learn(engine, slice_events())
        async with engine.connect() as connection:
            rows = await facts_after(connection, 0)
    finally:
        await engine.dispose()

    assert [row.kind for row in rows] == ["member", "member", "inventors", "ownership", "receipt"]
    assert rows[-1].body["amount"] == 1_000_001
    assert rows[-1].body["asset_ids"] == [ASSET]
