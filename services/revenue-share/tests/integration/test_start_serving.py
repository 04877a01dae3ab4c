"""A restarted revenue-share answers reads before its consumer has joined its group.

Joining a consumer group after a restart can take a whole session timeout (the broker waits for the
old member to leave). The service started its consumers before it served, so every restart refused
requests for that long; now each consumer joins in its own task. Here the join never ends, and the
service must still answer over HTTP, on the real PostgreSQL and broker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from ipshare import bus
from ipshare.auth import Role, issue_token
from ipshare.runtime import run_service
from ipshare_devtools.embedded import free_port
from revenue_share.entrypoints.main import RevenueShareSettings, spec

pytestmark = pytest.mark.integration


class JoiningForever:
    """A Kafka consumer whose group join does not end while the test runs."""

    def __init__(self) -> None:
        self.joining = asyncio.Event()
        self.joined = asyncio.Event()

    async def start(self) -> None:
        self.joining.set()
        await self.joined.wait()

    async def stop(self) -> None:
        self.joined.set()


async def answered(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> httpx.Response:
    """The first answer the service gives, however long it takes to start listening."""
    for _ in range(600):
        try:
            return await client.get(path, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"{path} did not answer within a minute")


async def test_reads_are_served_while_the_consumer_joins_its_group(
    fresh_database: str, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumers: list[JoiningForever] = []

    def joining_forever(*_: Any, **__: Any) -> JoiningForever:
        consumers.append(JoiningForever())
        return consumers[-1]

    monkeypatch.setattr(bus, "consumer", joining_forever)
    settings = RevenueShareSettings(
        database_url=fresh_database, kafka_bootstrap_servers=kafka_bootstrap, http_port=free_port(),
        grpc_port=free_port(), jwt_secret="revenue-share-start-serving-secret-0123456",
    )  # fmt: skip
    finance = {"Authorization": f"Bearer {issue_token(settings, Role.FINANCE)}"}
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(spec(settings), stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.http_port}", timeout=10) as client:
            response = await asyncio.wait_for(answered(client, "/periods", finance), 90)
        assert response.status_code == 200, response.text
        assert response.json() == []
        assert consumers, "the service has a consumer (its inbox)"
        assert all(c.joining.is_set() and not c.joined.is_set() for c in consumers)
    finally:
        stop.set()
        await asyncio.wait_for(service, 60)
