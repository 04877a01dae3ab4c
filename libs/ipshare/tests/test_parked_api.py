"""`/admin/parked-events` on the real PostgreSQL: list, retry all or one aggregate's, bad ids refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.auth import Role, issue_token
from ipshare.parked_api import router
from ipshare.relay import parked_events
from ipshare.settings import AuthSettings
from ipshare.web import create_api
from ipshare_devtools.testing.tables import migrated_engine

pytestmark = pytest.mark.integration
SETTINGS = AuthSettings(jwt_secret="a-test-secret-long-enough-for-hs256-keys")
TOPIC = "ipshare.test.events.v1"
FIRST, SECOND = uuid.uuid4(), uuid.uuid4()


async def _ok() -> bool:
    return True


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(fresh_database)
    async with engine.begin() as conn:
        await conn.execute(insert(parked_events), [
            {"topic": TOPIC, "position": position, "aggregate_id": str(aggregate), "reason": "too large",
             "parked_at": datetime.now(UTC), "retry_requested": False}
            for position, aggregate in ((3, FIRST), (5, SECOND), (7, FIRST))
        ])  # fmt: skip
    yield engine
    await engine.dispose()


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    api = create_api("test", SETTINGS, {"always": _ok})
    api.include_router(router)
    api.state.relay = lambda: SimpleNamespace(engine=engine, topic=TOPIC)
    token = issue_token(SETTINGS, Role.ADMIN, subject="operator")
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                 headers={"Authorization": f"Bearer {token}"}) as c:  # fmt: skip
        yield c


async def requested(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(parked_events.c.position).where(parked_events.c.retry_requested))
        return sorted(rows.scalars())


async def test_the_parked_events_are_listed_oldest_first(client: httpx.AsyncClient) -> None:
    answer = await client.get("/admin/parked-events")
    assert answer.status_code == 200
    assert [(e["position"], e["aggregate_id"]) for e in answer.json()] == [(3, str(FIRST)), (5, str(SECOND)),
                                                                          (7, str(FIRST))]  # fmt: skip


async def test_a_retry_of_one_aggregate_marks_its_events_only(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    answer = await client.post("/admin/parked-events/retry", params={"aggregate_id": str(FIRST)})
    assert (answer.status_code, answer.json()) == (202, {"retry_requested": 2})
    assert await requested(engine) == [3, 7]


@pytest.mark.parametrize("bad", ["not-an-id", "\x00", f"{FIRST}\x00"])
async def test_an_aggregate_id_that_is_no_uuid_is_a_422_naming_it(
    client: httpx.AsyncClient, engine: AsyncEngine, bad: str
) -> None:
    answer = await client.post("/admin/parked-events/retry", params={"aggregate_id": bad})
    assert answer.status_code == 422
    assert "aggregate_id" in answer.text
    assert await requested(engine) == []
