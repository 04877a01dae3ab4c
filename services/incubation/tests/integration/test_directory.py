"""Incubation checks the ids it is given against what the IP registry and commercialization published.

The registry and commercialization applications on the real PostgreSQL, their relays
publishing to topics of this test's own on the real broker, incubation's directory fed
from both by the shared consumer, and incubation wired as the service wires it (a
patient directory for writes, the projection for reads). Unknown ids, an asset the
contributing member did not own that day and an Art. 45 reward under the floor are
refused; the OCF export names people as registered; an asset registered a moment ago
is accepted once its event arrives, within the wait, and refused with a 409 that says
so when it does not.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from commercialization.application import CommercializationApplication
from commercialization.catalog import build_catalog as commercialization_catalog
from incubation.adapters.directory import (
    DirectoryProjection,
    PatientDirectory,
    ProjectedDirectory,
    known_assets,
    known_licenses,
    known_ownership,
)
from incubation.application import IncubationApplication
from incubation.domain.references import UnknownReference
from incubation.entrypoints.http import create_http
from incubation.entrypoints.main import IncubationSettings, spec
from incubation.migrations import schema
from ip_registry.application import IpRegistryApplication
from ip_registry.catalog import build_catalog as registry_catalog
from ip_registry.domain.commands import AssetRegistration, InventorClaim
from ip_registry.domain.identifiers import uscc_check_character
from ipshare import bus
from ipshare.auth import Principal, Role, issue_token
from ipshare.consumer import Consumer
from ipshare.error_status import http_status
from ipshare.eventstore import CommandContext, ServiceApplication, persistence_env
from ipshare.relay import Relay
from ipshare.runtime import Runtime
from ipshare.settings import BusSettings
from ipshare_devtools.testing.fixtures import unique_topic
from ipshare_devtools.testing.tables import migrated_engine
from ipshare_kernel.errors import Conflict, DomainError
from ipshare_kernel.money import Money

pytestmark = pytest.mark.integration

ADMIN = CommandContext(Principal(Role.ADMIN, "admin"))
INCUBATOR = CommandContext(Principal(Role.INCUBATOR, "manager"))
AUDITOR = CommandContext(Principal(Role.AUDITOR, "auditor"))
SECRET = "incubation-directory-integration-secret-0123"
SINCE, SHARED_FROM = date(2021, 3, 1), date(2023, 1, 1)


class RegistryOwnership:
    """Commercialization's ownership lookup, answered by the registry application itself."""

    def __init__(self, registry: IpRegistryApplication) -> None:
        self.registry = registry

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return self.registry.ownership_as_of(ADMIN, asset_id, as_of)


@dataclass
class World:
    registry: IpRegistryApplication
    commercialization: CommercializationApplication
    engine: AsyncEngine
    database_url: str
    bus: BusSettings
    topics: tuple[str, str]
    uni: uuid.UUID
    corp: uuid.UUID
    li: uuid.UUID
    zhang: uuid.UUID
    asset: uuid.UUID
    license: uuid.UUID

    def incubation(self, wait_seconds: float) -> IncubationApplication:
        projected = ProjectedDirectory.connect(self.database_url, pool_size=1)
        return IncubationApplication(
            persistence_env(self.database_url, connections=2),
            PatientDirectory(projected, wait_seconds),
            reads=projected,
        )


def admit(registry: IpRegistryApplication, name: str, n: int, state_established: bool) -> uuid.UUID:
    code = f"91110000{n:09d}"
    return registry.admit_member(
        ADMIN, name=name, kind="university" if state_established else "enterprise",
        state_established=state_established, credit_code=code + uscc_check_character(code),
        effective_date=date(2020, 1, 1),
    )  # fmt: skip


def register(registry: IpRegistryApplication, owner: uuid.UUID, inventor: uuid.UUID, title: str) -> uuid.UUID:
    return registry.register_asset(
        ADMIN,
        AssetRegistration(
            title=title, kind="invention_patent", jurisdiction="CN", registered_by=owner, owners={owner: 10_000},
            inventors=[InventorClaim(inventor, 10_000)], ownership_effective_date=SINCE,
        ),
    )  # fmt: skip


@pytest.fixture
async def world(fresh_database: str, kafka_bootstrap: str) -> AsyncIterator[World]:
    env = persistence_env(fresh_database, connections=2)  # the server is shared with the other tests' stacks
    registry = IpRegistryApplication(env)
    commercialization = CommercializationApplication(env, RegistryOwnership(registry))
    engine = await migrated_engine(fresh_database, schema)
    settings = BusSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_partitions=3)
    topics = (unique_topic("ip-registry"), unique_topic("commercialization"))
    await bus.ensure_topics(settings, [*topics, f"{topics[0]}.dlq"])
    uni = admit(registry, "Huaxia University", 1, state_established=True)
    corp = admit(registry, "Precision Turbines", 2, state_established=False)
    li = registry.register_researcher(ADMIN, name="Li Wei", member_id=uni, effective_date=SINCE)
    zhang = registry.register_researcher(ADMIN, name="Zhang Min", member_id=corp, effective_date=SINCE)
    asset = register(registry, uni, li, "Adaptive laser cladding")
    registry.transfer_shares(ADMIN, asset, from_member_id=uni, to_member_id=corp, share_bps=5000,
                             effective_date=SHARED_FROM)  # fmt: skip
    uni_member = CommandContext(Principal(Role.MEMBER, str(uni), uni))
    license_id = commercialization.grant_license(uni_member, "Precision Turbines Co.", [asset], "non_exclusive", 500,
                                                 effective_date=SINCE)  # fmt: skip
    yield World(registry, commercialization, engine, fresh_database, settings, topics, uni, corp, li, zhang, asset,
                license_id)  # fmt: skip
    commercialization.close()
    registry.close()
    await engine.dispose()


async def publish(world: World) -> None:
    """Both services' relays publish everything recorded so far to their topics."""
    producer: AIOKafkaProducer = bus.producer(world.bus)
    await producer.start()
    try:
        sources: list[tuple[ServiceApplication, Any, str]] = [
            (world.registry, registry_catalog(), world.topics[0]),
            (world.commercialization, commercialization_catalog(), world.topics[1]),
        ]
        for app, catalog, topic in sources:
            relay = Relay(app, catalog, producer, world.engine, topic)
            await relay.load_position()
            while await relay.publish_once():
                pass
    finally:
        await producer.stop()


async def project_until(world: World, done: Any) -> None:
    """The shared consumer applies both topics to the directory until `done(engine)` says so."""
    producer: AIOKafkaProducer = bus.producer(world.bus)
    await producer.start()
    kafka = bus.consumer(world.bus, f"incubation.directory.{uuid.uuid4().hex[:6]}", *world.topics)
    await kafka.start()
    try:
        projection = DirectoryProjection(*world.topics)
        consumer = Consumer(projection, kafka, producer, f"{world.topics[0]}.dlq", world.engine)
        async with asyncio.timeout(30):
            while not await done(world.engine):
                for tp, records in (await kafka.getmany(timeout_ms=300)).items():
                    await consumer.handle(tp, records)
    finally:
        await kafka.stop()
        await producer.stop()


async def rows(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def licensed_and_shared(engine: AsyncEngine) -> bool:
    return await rows(engine, known_licenses) == 1 and await rows(engine, known_ownership) == 2


async def test_ids_are_checked_against_the_registry_and_commercialization(world: World) -> None:
    await publish(world)
    await project_until(world, licensed_and_shared)
    app = await asyncio.to_thread(world.incubation, 0.2)
    try:
        spin_off_id = await asyncio.to_thread(
            app.found_spin_off, INCUBATOR, name="Huaxia Laser Cladding", asset_ids=[world.asset],
            founded_via="license", license_id=world.license, share_classes={"common": 10_000_000},
            effective_date=SINCE,
        )  # fmt: skip
        with pytest.raises(UnknownReference, match="not known here") as unknown:
            app.found_spin_off(INCUBATOR, name="x", asset_ids=[world.asset], founded_via="license",
                               license_id=uuid.uuid4(), share_classes={"common": 1})  # fmt: skip
        assert (http_status(unknown.value), unknown.value.details["source"]) == (409, "commercialization")

        def contribute(member: uuid.UUID, day: date, rewards: dict[uuid.UUID, int], rule: str = "") -> Any:
            return app.contribute_ip(
                INCUBATOR, spin_off_id, member_id=member, asset_ids=[world.asset], valuation=Money(1_000_000, "CNY"),
                share_class="common", shares=1_000_000, rewards=rewards, own_rule_document=rule, effective_date=day,
            )  # fmt: skip

        with pytest.raises(Conflict, match="did not own asset"):  # the enterprise co-owns from 2023 only
            contribute(world.corp, date(2022, 6, 1), {world.zhang: 200_000}, "PT-HR-2022-11")
        with pytest.raises(DomainError, match="state-established"):  # its own rule cannot go under 50%
            contribute(world.uni, date(2022, 6, 1), {world.li: 300_000}, "HXU-TT-2021-04")
        contribute(world.uni, date(2022, 6, 1), {world.li: 500_000})
        by_rule = contribute(world.corp, date(2023, 6, 1), {world.zhang: 200_000}, "PT-HR-2022-11")
        assert (by_rule.own_rule_document, by_rule.reward_bps, by_rule.state_established) == (
            "PT-HR-2022-11", 2000, False,
        )  # fmt: skip

        package = app.ocf_package(AUDITOR, spin_off_id, date(2024, 1, 1))
        names = {s["id"]: s["name"]["legal_name"] for s in package["stakeholders.ocf.json"]["items"]}
        assert names == {
            f"member-{world.uni}": "Huaxia University", f"member-{world.corp}": "Precision Turbines",
            f"researcher-{world.li}": "Li Wei", f"researcher-{world.zhang}": "Zhang Min",
        }  # fmt: skip
        comments = [c for t in package["transactions.ocf.json"]["items"] for c in t.get("comments", [])]
        assert any("own reward rule, document PT-HR-2022-11" in c for c in comments)

        # Over HTTP, an id not known is a 409 that names the field and says why.
        settings = IncubationSettings(jwt_secret=SECRET, database_url=world.database_url)
        runtime = Runtime(spec(settings))
        runtime._app, runtime._engine = app, world.engine
        headers = {"Authorization": f"Bearer {issue_token(settings, Role.INCUBATOR)}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_http(runtime)), base_url="http://t") as c:
            stranger = uuid.uuid4()
            body = {"name": "x", "asset_ids": [str(stranger)], "founded_via": "capital_contribution",
                    "share_classes": {"common": 1}}  # fmt: skip
            answer = await c.post("/spin-offs", json=body, headers=headers)
            table = await c.get(f"/spin-offs/{spin_off_id}/cap-table", params={"as_of": "2024-01-01"}, headers=headers)
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["code"] == "unknown_reference"
        assert answer.json()["error"]["details"] == {"field": "asset_ids", "id": str(stranger), "source": "ip-registry"}
        assert [c["own_rule_document"] for c in table.json()["contributions"]] == ["", "PT-HR-2022-11"]
    finally:
        app.close()


async def test_an_asset_registered_a_moment_ago_is_accepted_once_its_event_arrives(world: World) -> None:
    await publish(world)
    await project_until(world, licensed_and_shared)
    fresh = register(world.registry, world.uni, world.li, "Laser head")  # not on the topic yet
    impatient = await asyncio.to_thread(world.incubation, 0.2)
    patient = await asyncio.to_thread(world.incubation, 20.0)
    try:
        started = time.monotonic()
        with pytest.raises(UnknownReference, match="created a moment ago: then retry shortly"):
            await asyncio.to_thread(
                impatient.found_spin_off, INCUBATOR, name="x", asset_ids=[fresh], founded_via="capital_contribution",
                share_classes={"common": 1},
            )  # fmt: skip
        assert time.monotonic() - started >= 0.2  # it looked again before refusing

        def found_on_fresh() -> uuid.UUID:
            classes = {"common": 1000}
            return patient.found_spin_off(
                INCUBATOR, name="Laser Head Co", asset_ids=[fresh], founded_via="capital_contribution",
                share_classes=classes,
            )  # fmt: skip

        founding = asyncio.create_task(asyncio.to_thread(found_on_fresh))
        await asyncio.sleep(0.3)
        assert not founding.done()  # waiting for the registry's event
        await publish(world)
        await project_until(world, lambda engine: _known_assets(engine, 2))
        spin_off_id = await asyncio.wait_for(founding, 20)
        assert patient.get_spin_off(AUDITOR, spin_off_id).asset_ids == [str(fresh)]
    finally:
        impatient.close()
        patient.close()


async def _known_assets(engine: AsyncEngine, count: int) -> bool:
    return await rows(engine, known_assets) >= count
