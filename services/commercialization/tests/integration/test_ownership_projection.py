"""Ownership kept from the IP registry's topic keeps commercialization working while the registry is down.

The registry application on the real PostgreSQL, its relay publishing to a topic of
this test's own on the real broker, commercialization's ownership projection fed from
it by the shared consumer, and commercialization wired as the service wires it (the
registry over gRPC for writes, the projection for reads). The projection agrees with
the registry day by day; then the registry's gRPC server stops, and reads, a
non-exclusive grant and finance's reads of an asset sold out of the membership still
work, over the HTTP API.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import grpc
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from commercialization.adapters.ownership import (
    OWNERSHIP_FALLBACKS,
    OwnershipProjection,
    ProjectedOwnership,
    ProjectionFirst,
    asset_ownership,
)
from commercialization.application import CommercializationApplication
from commercialization.entrypoints.http import create_http
from commercialization.entrypoints.main import CommercializationSettings, spec
from commercialization.migrations import schema
from ip_registry.application import IpRegistryApplication
from ip_registry.catalog import build_catalog
from ip_registry.domain.commands import AssetRegistration, InventorClaim
from ip_registry.domain.ownership_transfer import TransferRequest
from ip_registry.entrypoints.grpc import IpRegistryServicer
from ipshare import bus
from ipshare.auth import Principal, Role, issue_token
from ipshare.consumer import Consumer
from ipshare.eventstore import CommandContext, persistence_env
from ipshare.grpc_runtime import create_server
from ipshare.relay import Relay
from ipshare.runtime import Runtime
from ipshare.settings import BusSettings
from ipshare_contracts.ipregistry.v1 import service_pb2_grpc
from ipshare_devtools.testing.fixtures import unique_topic
from ipshare_devtools.testing.tables import migrated_engine

from .conftest import ADMIN, admit

pytestmark = pytest.mark.integration

SECRET = "ownership-projection-integration-secret-0123"
SINCE = date(2021, 3, 1)
SOLD_ON = date(2025, 5, 1)


@dataclass
class Stack:
    registry: IpRegistryApplication
    server: grpc.aio.Server
    app: CommercializationApplication
    projected: ProjectedOwnership
    engine: AsyncEngine
    settings: CommercializationSettings
    uni: uuid.UUID
    corp: uuid.UUID
    lab: uuid.UUID


class HandedInRuntime(Runtime[CommercializationApplication, CommercializationSettings]):
    """The service's runtime with its application and database handed in (no broker, no servers)."""

    def __init__(self, settings: CommercializationSettings, app: CommercializationApplication, engine: AsyncEngine):
        super().__init__(spec(settings))
        self._app, self._engine = app, engine


def register(stack: Stack, owners: Mapping[uuid.UUID, int]) -> uuid.UUID:
    inventor = stack.registry.register_researcher(ADMIN, name="Li", member_id=stack.uni, effective_date=SINCE)
    return stack.registry.register_asset(
        ADMIN,
        AssetRegistration(
            title="Lattice", kind="invention_patent", jurisdiction="CN", registered_by=stack.uni, owners=dict(owners),
            inventors=[InventorClaim(inventor, 10_000)], ownership_effective_date=SINCE,
            confirmed_by=[m for m in owners if m != stack.uni],
        ),
    )  # fmt: skip


@pytest.fixture
async def stack(fresh_database: str) -> AsyncIterator[Stack]:
    env = persistence_env(fresh_database)  # each application has its own tables in the one database
    registry = IpRegistryApplication(env)
    settings = CommercializationSettings(jwt_secret=SECRET, database_url=fresh_database)
    server, _ = create_server(settings)
    service_pb2_grpc.add_IpRegistryServicer_to_server(IpRegistryServicer(lambda: registry, settings), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    settings = settings.model_copy(update={"ip_registry_grpc_address": f"127.0.0.1:{port}"})
    engine = await migrated_engine(fresh_database, schema)
    app = await asyncio.to_thread(spec(settings).application, env)  # wired as the service wires it
    assert isinstance(app.reads, ProjectionFirst)
    members = [admit(registry, name, n) for n, name in enumerate(("Uni", "Corp", "Lab"), start=1)]
    yield Stack(registry, server, app, app.reads.projection, engine, settings, *members)
    await server.stop(None)
    app.close()
    await engine.dispose()
    registry.close()


async def publish_and_project(stack: Stack, settings: BusSettings, topic: str, rows: int) -> None:
    """The registry's relay publishes its log; the consumer applies it until `rows` changes are kept."""
    producer: AIOKafkaProducer = bus.producer(settings)
    await producer.start()
    kafka = bus.consumer(settings, f"commercialization.ownership.{uuid.uuid4().hex[:6]}", topic)
    await kafka.start()
    try:
        relay = Relay(stack.registry, build_catalog(), producer, stack.engine, topic)
        await relay.load_position()
        while await relay.publish_once():
            pass
        consumer = Consumer(OwnershipProjection(topic), kafka, producer, f"{topic}.dlq", stack.engine)
        async with asyncio.timeout(30):
            while await kept(stack.engine) < rows:
                for tp, records in (await kafka.getmany(timeout_ms=300)).items():
                    await consumer.handle(tp, records)
    finally:
        await kafka.stop()
        await producer.stop()


async def kept(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(asset_ownership)) or 0)


def bearer(settings: CommercializationSettings, role: Role, member_id: uuid.UUID | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, role, member_id)}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_reads_and_a_non_exclusive_grant_keep_working_while_the_registry_is_down(
    stack: Stack, kafka_bootstrap: str
) -> None:
    settings = BusSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_partitions=3)
    topic = unique_topic("ip-registry")
    await bus.ensure_topics(settings, [topic, f"{topic}.dlq"])
    co_owned = register(stack, {stack.uni: 6000, stack.corp: 4000})
    own = register(stack, {stack.uni: 10_000})
    sold = register(stack, {stack.uni: 5000, stack.lab: 5000})
    stack.registry.transfer_shares(
        ADMIN, co_owned, from_member_id=stack.uni, to_member_id=stack.lab, share_bps=1000,
        effective_date=date(2022, 1, 1),
    )  # fmt: skip
    app = stack.app
    member = {m: CommandContext(Principal(Role.MEMBER, str(m), m)) for m in (stack.uni, stack.corp, stack.lab)}
    # Granted while the registry answers; then `sold` leaves the membership (OwnershipAssignedOut).
    licensed = await asyncio.to_thread(
        app.grant_license, member[stack.corp], "Acme", [co_owned], "non_exclusive", 500, effective_date=SINCE
    )
    on_sold = await asyncio.to_thread(
        app.grant_license, member[stack.lab], "Beta", [sold], "non_exclusive", 300,
        end_date=date(2027, 12, 31), effective_date=date(2023, 1, 1),
    )  # fmt: skip
    stack.registry.transfer_ownership(
        CommandContext(Principal(Role.SERVICE, "commercialization")),
        TransferRequest(request_id="sale-1", asset_id=sold, from_owners={stack.uni: 5000, stack.lab: 5000},
                        assignee="Buyer Ltd", assignee_member_id=None, effective_date=SOLD_ON),
    )  # fmt: skip

    await publish_and_project(stack, settings, topic, rows=5)  # 3 registrations, a transfer, a sale

    # An asset registered since is not on the projection yet: a read asks the registry about it.
    fresh = register(stack, {stack.uni: 5000, stack.corp: 5000})
    on_fresh = await asyncio.to_thread(
        app.grant_license, member[stack.uni], "Delta", [fresh], "non_exclusive", 100, effective_date=SINCE
    )
    assert not stack.projected.knows(fresh)
    assert (await asyncio.to_thread(app.get_license, member[stack.corp], on_fresh)).licensee == "Delta"

    days = [SINCE - timedelta(days=1), SINCE, date(2021, 12, 31), date(2022, 1, 1), SOLD_ON, date.today()]
    for asset_id in (co_owned, own, sold):
        for day in days:  # the projection says what the registry says, day by day
            assert stack.projected.owners_as_of(asset_id, day) == stack.registry.ownership_as_of(ADMIN, asset_id, day)
    assert stack.projected.owners_as_of(sold, SOLD_ON) == {}
    assert [p.cause for p in stack.projected.history(co_owned)] == ["registration", "transfer"]
    assert stack.projected.owners_during(sold, SINCE, date.today()) == {stack.uni, stack.lab}

    await stack.server.stop(None)  # the IP registry is down from here on
    fallbacks = OWNERSHIP_FALLBACKS._value.get()

    engine = stack.engine
    api = create_http(HandedInRuntime(stack.settings, app, engine))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
        uni, finance = bearer(stack.settings, Role.MEMBER, stack.uni), bearer(stack.settings, Role.FINANCE)
        # Reads answer from the projection.
        assert ok(await client.get(f"/licenses/{licensed}", headers=uni))["licensee"] == "Acme"
        assert ok(await client.get(f"/licenses/{licensed}/royalty-reports", headers=uni)) == []
        assert [x["license_id"] for x in ok(await client.get(f"/assets/{co_owned}/licenses", headers=uni))] == [
            str(licensed)
        ]
        stranger = bearer(stack.settings, Role.MEMBER, uuid.uuid4())
        assert (await client.get(f"/licenses/{licensed}", headers=stranger)).status_code == 403
        # Who owns an asset the projection has not heard of cannot be told now: a 503, not a 403.
        corp = bearer(stack.settings, Role.MEMBER, stack.corp)
        unknown_yet = await client.get(f"/licenses/{on_fresh}", headers=corp)
        assert (unknown_yet.status_code, unknown_yet.json()["error"]["code"]) == (503, "ip_registry_unavailable")
        # Nobody owns `sold` any more: finance reads it all the same, and so do its former owners.
        assert ok(await client.get(f"/licenses/{on_sold}", headers=finance))["licensee"] == "Beta"
        assert ok(await client.get(f"/licenses/{on_sold}/royalty-reports", headers=finance)) == []
        assert ok(await client.get(f"/licenses/{on_sold}", headers=uni))["licensee"] == "Beta"
        assert OWNERSHIP_FALLBACKS._value.get() == fallbacks  # no read asked the registry

        # A non-exclusive grant asks the registry, which does not answer: the projection decides.
        grant = {
            "licensee": "Gamma", "asset_ids": [str(own)], "license_type": "non_exclusive",
            "terms": {"currency": "CNY", "running_royalty": {"CNY": [{"threshold": 0, "rate_bps": 200}]}},
            "effective_date": date.today().isoformat(),
        }  # fmt: skip
        granted = ok(await client.post("/licenses", json=grant, headers=uni), 201)
        assert granted["status"] == "active"
        assert OWNERSHIP_FALLBACKS._value.get() == fallbacks + 1
        # Not an owner by the projection either: refused as when the registry answers.
        assert (await client.post("/licenses", json=grant, headers=corp)).status_code == 403
        # An asset this service never heard of cannot be checked at all: still a 503.
        unknown = {**grant, "asset_ids": [str(uuid.uuid4())]}
        refused = await client.post("/licenses", json=unknown, headers=uni)
        assert (refused.status_code, refused.json()["error"]["code"]) == (503, "ip_registry_unavailable")
