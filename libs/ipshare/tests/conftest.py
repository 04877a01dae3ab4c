"""Fixtures the relay and consumer tests share; each module gives its own `settings` (which broker)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare import bus
from ipshare.settings import BusSettings
from ipshare_devtools.testing.projections import names_metadata
from ipshare_devtools.testing.tables import migrated_engine


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    """The test database with the library's tables, as a service's migrations make them, and the
    `names` projection's table (a test's own)."""
    engine = await migrated_engine(fresh_database)
    async with engine.begin() as conn:
        await conn.run_sync(names_metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def producer(settings: BusSettings) -> AsyncIterator[AIOKafkaProducer]:
    p = bus.producer(settings)
    await p.start()
    yield p
    await p.stop()
