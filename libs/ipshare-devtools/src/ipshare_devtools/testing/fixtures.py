"""pytest fixtures: a real PostgreSQL and a real Kafka-protocol broker for the whole session.

`DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS` point the tests at servers of your
own; otherwise the embedded ones start in a temporary folder and stop at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from ipshare.database import with_database
from ipshare.eventstore import persistence_env
from ipshare.settings import DEV_MODE_VARIABLE
from ipshare_devtools.embedded import Broker, start_postgres, stop_postgres


def pytest_configure(config: pytest.Config) -> None:
    # Tests run in development mode, as the embedded stack does; a test of the refusals says so itself.
    os.environ.setdefault(DEV_MODE_VARIABLE, "true")


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    data_dir: Path = tmp_path_factory.mktemp("pgdata")
    yield start_postgres(data_dir, max_connections=400)  # several stacks of replicas at once
    stop_postgres(data_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
        return
    broker = Broker(log_path=tmp_path_factory.mktemp("broker") / "tansu.log")
    yield broker.start()
    broker.stop()


@pytest.fixture(params=["popo", "postgres"])
def event_store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """eventsourcing settings for each persistence module: run one suite against all of them."""
    if request.param == "popo":
        return persistence_env(None)
    return persistence_env(request.getfixturevalue("fresh_database"))


@pytest.fixture
async def fresh_database(postgres_url: str) -> AsyncIterator[str]:
    """A new, empty database on the test server; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(with_database(postgres_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield with_database(postgres_url, name)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def unique_topic(prefix: str = "test") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"
