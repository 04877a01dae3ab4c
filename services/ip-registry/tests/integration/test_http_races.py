"""Concurrent writes over HTTP on the real PostgreSQL event store.

Two clients that send the same ETag in If-Match: exactly one write wins and the other gets a
412, never a lost update and never a 409. Writes without If-Match that clash on the version
are run again on the server, so every one of them lands.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ip_registry.application import IpRegistryApplication
from ip_registry.domain.identifiers import uscc_check_character
from ip_registry.entrypoints.http import create_http
from ip_registry.entrypoints.main import IpRegistrySettings, spec
from ip_registry.migrations import schema
from ipshare.auth import Principal, Role, issue_token
from ipshare.eventstore import CommandContext, persistence_env
from ipshare.runtime import Runtime
from ipshare_devtools.testing.tables import migrated_engine
from ipshare_kernel.clock import FixedClock

pytestmark = pytest.mark.integration

SETTINGS = IpRegistrySettings(jwt_secret="ip-registry-race-test-secret-0123456789")
ADMIN = CommandContext(Principal(Role.ADMIN, "admin"))
ROUNDS = 15


class HandedInRuntime(Runtime[IpRegistryApplication, IpRegistrySettings]):
    def __init__(self, app: IpRegistryApplication, engine: AsyncEngine) -> None:
        super().__init__(spec(SETTINGS))
        self._app, self._engine = app, engine


@pytest.fixture
def app(fresh_database: str) -> Iterator[IpRegistryApplication]:
    application = IpRegistryApplication(env=persistence_env(fresh_database), clock=FixedClock.on(date(2024, 6, 1)))
    yield application
    application.close()


@pytest.fixture
async def client(app: IpRegistryApplication, fresh_database: str) -> AsyncIterator[httpx.AsyncClient]:
    engine = await migrated_engine(fresh_database, schema)
    api = create_http(HandedInRuntime(app, engine))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as c:
        yield c
    await engine.dispose()


@pytest.fixture
def owner(app: IpRegistryApplication) -> uuid.UUID:
    code = "911100000000000" + "01"
    return app.admit_member(ADMIN, name="Uni", kind="university", state_established=True,
                            credit_code=code + uscc_check_character(code), effective_date=date(2020, 1, 1))  # fmt: skip


def as_member(member_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, Role.MEMBER, member_id)}"}


@pytest.fixture
async def asset(client: httpx.AsyncClient, app: IpRegistryApplication, owner: uuid.UUID) -> str:
    researcher = app.register_researcher(ADMIN, name="Alice", member_id=owner, effective_date=date(2020, 1, 1))
    body = {
        "title": "Laser sintering", "kind": "invention_patent", "jurisdiction": "CN", "registered_by": str(owner),
        "owners": [{"member_id": str(owner), "share_bps": 10_000}],
        "inventors": [{"researcher_id": str(researcher), "contribution_bps": 10_000}],
        "application_number": "202110012345.9", "status": "filed", "filing_date": "2021-03-01",
        "disclosure_date": "2021-01-15", "technology_field": "additive manufacturing",
    }  # fmt: skip
    response = await client.post("/assets", json=body, headers=as_member(owner))
    assert response.status_code == 201, response.text
    asset_id: str = response.json()["id"]
    return asset_id


def cost(owner: uuid.UUID, n: int) -> dict[str, Any]:
    return {"kind": "annuity", "amount": {"amount_minor": 1_000 + n, "currency": "CNY"}, "paid_by": str(owner),
            "effective_date": "2024-03-01"}  # fmt: skip


Write = tuple[str, dict[str, Any]]


Writes = Callable[[dict[str, Any]], tuple[Write, Write]]


async def race_with_one_etag(
    client: httpx.AsyncClient, asset: str, headers: dict[str, str], writes: Writes
) -> list[httpx.Response]:
    """Read the asset, then send both writes at once with the ETag read."""
    read = await client.get(f"/assets/{asset}", headers=headers)
    tagged = {**headers, "If-Match": read.headers["etag"]}
    first, second = writes(read.json())
    return list(await asyncio.gather(
        client.post(f"/assets/{asset}/{first[0]}", json=first[1], headers=tagged),
        client.post(f"/assets/{asset}/{second[0]}", json=second[1], headers=tagged),
    ))  # fmt: skip


async def test_two_writers_with_the_same_etag_one_wins_the_other_gets_412(
    client: httpx.AsyncClient, asset: str, owner: uuid.UUID
) -> None:
    def two_costs(current: dict[str, Any]) -> tuple[Write, Write]:
        return ("costs", cost(owner, 2 * current["version"])), ("costs", cost(owner, 2 * current["version"] + 1))

    outcomes: list[tuple[int, ...]] = []
    for _ in range(ROUNDS):
        answers = await race_with_one_etag(client, asset, as_member(owner), two_costs)
        outcomes.append(tuple(sorted(a.status_code for a in answers)))
        for answer in answers:
            assert answer.status_code != 409, answer.text
            if answer.status_code == 412:
                assert answer.json()["error"]["code"] == "precondition_failed"
    assert outcomes == [(201, 412)] * ROUNDS
    final = (await client.get(f"/assets/{asset}", headers=as_member(owner))).json()
    assert len(final["costs"]) == ROUNDS  # one cost per round: no lost update, nothing doubled


async def test_tagging_the_strategic_reserve_with_the_same_etag_lets_one_writer_win(
    client: httpx.AsyncClient, asset: str, owner: uuid.UUID
) -> None:
    def other_tag_and_a_cost(current: dict[str, Any]) -> tuple[Write, Write]:
        tag = "common_foundational" if current["strategic_reserve"] == "key_core" else "key_core"
        return ("strategic-reserve", {"strategic_reserve": tag}), ("costs", cost(owner, current["version"]))

    outcomes = []
    for _ in range(ROUNDS):
        answers = await race_with_one_etag(client, asset, as_member(owner), other_tag_and_a_cost)
        outcomes.append(tuple(sorted(a.status_code for a in answers)))
    assert all(o in ((200, 412), (201, 412)) for o in outcomes), outcomes


async def test_concurrent_writes_without_if_match_all_land(
    client: httpx.AsyncClient, asset: str, owner: uuid.UUID
) -> None:
    headers = as_member(owner)
    answers = await asyncio.gather(
        *(client.post(f"/assets/{asset}/costs", json=cost(owner, n), headers=headers) for n in range(12))
    )
    assert [a.status_code for a in answers] == [201] * 12, [a.text for a in answers if a.status_code != 201]
    final = (await client.get(f"/assets/{asset}", headers=headers)).json()
    assert sorted(c["amount_minor"] for c in final["costs"]) == [1_000 + n for n in range(12)]
