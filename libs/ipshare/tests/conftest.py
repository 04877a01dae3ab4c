"""Fixtures the relay and consumer tests share; each module gives its own `settings` (which broker)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare import bus
from ipshare.database import open_engine
from ipshare.settings import BusSettings
from ipshare_devtools.testing.projections import names_metadata


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    """The test database, with the `names` projection's table."""
    engine = await open_engine(fresh_database, names_metadata)
    yield engine
    await engine.dispose()


@pytest.fixture
async def producer(settings: BusSettings) -> AsyncIterator[AIOKafkaProducer]:
    p = bus.producer(settings)
    await p.start()
    yield p
    await p.stop()
