"""Shared by the integration tests: the slice's facts, a fresh inbox and event store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.auth import Principal, Role
from ipshare.consumer import InboundEvent
from ipshare.eventstore import CommandContext, persistence_env
from ipshare.settings import BusSettings
from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry
from ipshare_contracts.money.v1.money_pb2 import Money
from ipshare_devtools.embedded import Broker
from ipshare_devtools.testing.tables import migrated_engine
from revenue_share.adapters.inbox import InboxProjection
from revenue_share.application import RevenueShareApplication
from revenue_share.migrations import schema

FINANCE = CommandContext(Principal(Role.FINANCE, "finance"))
UNIVERSITY, INSTITUTE = str(uuid.uuid4()), str(uuid.uuid4())
ALICE, BOB = str(uuid.uuid4()), str(uuid.uuid4())
ASSET, LICENSE = str(uuid.uuid4()), str(uuid.uuid4())
RECEIPT = 1_000_001  # fen: odd, so every split must round


def envelope(source: str, aggregate_id: str, version: int, payload: Message) -> InboundEvent:
    env = EventEnvelope(event_id=str(uuid.uuid4()), source=source, type=payload.DESCRIPTOR.full_name,
                        aggregate_id=aggregate_id, aggregate_version=version, position=version)  # fmt: skip
    env.payload.Pack(payload)
    return InboundEvent(env, payload)


def slice_events() -> list[InboundEvent]:
    inventors = [
        registry.Inventor(researcher_id=ALICE, contribution_bps=7000, affiliation_member_id=UNIVERSITY),
        registry.Inventor(researcher_id=BOB, contribution_bps=3000, affiliation_member_id=INSTITUTE),
    ]
    owners = [registry.OwnerShare(member_id=UNIVERSITY, share_bps=6000),
              registry.OwnerShare(member_id=INSTITUTE, share_bps=4000)]  # fmt: skip
    revenue = commercialization.RevenueReceived(
        license_id=LICENSE, asset_ids=[ASSET], kind="upfront", amount=Money(amount=RECEIPT, currency="CNY"),
        effective_date="2026-11-20",
    )  # fmt: skip
    return [
        envelope("ip-registry", UNIVERSITY, 1, registry.MemberAdmitted(kind="university", state_established=True)),
        envelope("ip-registry", INSTITUTE, 1, registry.MemberAdmitted(kind="research_institute")),
        envelope("ip-registry", ASSET, 1, registry.AssetRegistered(inventors=inventors, effective_date="2026-11-01")),
        envelope("ip-registry", ASSET, 3, registry.OwnershipEffective(owners=owners, effective_date="2026-11-02")),
        envelope("commercialization", LICENSE, 5, revenue),
    ]


@pytest.fixture
def bus_settings(tmp_path: Path) -> Iterator[BusSettings]:
    """A broker of the test's own: the service topics start empty."""
    broker = Broker(log_path=tmp_path / "broker.log")
    settings = BusSettings(kafka_bootstrap_servers=broker.start(), topic_partitions=2)
    yield settings
    broker.stop()


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(fresh_database, schema)
    yield engine
    await engine.dispose()


@pytest.fixture
def application(fresh_database: str) -> Iterator[RevenueShareApplication]:
    app = RevenueShareApplication(persistence_env(fresh_database))
    yield app
    app.close()


async def publish(settings: BusSettings, messages: list[tuple[str, bytes, bytes]]) -> dict[tuple[str, int], int]:
    """Send (topic, key, value) messages; returns the partitions each landed on, with their count."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    landed: dict[tuple[str, int], int] = {}
    try:
        for topic, key, value in messages:
            sent = await (await producer.send(topic, value, key=key))
            landed[(sent.topic, sent.partition)] = landed.get((sent.topic, sent.partition), 0) + 1
    finally:
        await producer.stop()
    return landed


async def learn(engine: AsyncEngine, events: list[InboundEvent]) -> None:
    async with engine.begin() as conn:
        await InboxProjection().apply(conn, events)
