"""Every registry change reaches the topic: the relay on the real PostgreSQL and broker.

One of each change is made through the use cases on a fresh database, the relay
publishes the log to a topic of its own, and the topic read back from the beginning
must hold exactly the stored events (those the catalog publishes), each once, with
its metadata, in version order per aggregate.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ip_registry.application import IpRegistryApplication
from ip_registry.catalog import SOURCE, build_catalog
from ip_registry.domain.commands import AssetRegistration, InventorClaim
from ip_registry.domain.identifiers import uscc_check_character
from ip_registry.domain.ownership_transfer import OwnershipTransfer, TransferRequest
from ip_registry.migrations import schema
from ipshare import bus
from ipshare.auth import Principal, Role
from ipshare.envelope import PayloadDecoder, decode_envelope, event_id
from ipshare.eventstore import CommandContext, persistence_env
from ipshare.relay import Relay
from ipshare.settings import BusSettings
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_devtools.testing.fixtures import unique_topic
from ipshare_devtools.testing.tables import migrated_engine
from ipshare_devtools.testing.typed_twins import twin_disagreements
from ipshare_kernel.clock import FixedClock
from ipshare_kernel.money import Money

pytestmark = pytest.mark.integration

TODAY = date(2024, 6, 1)
SINCE = date(2020, 1, 1)


def credit_code(n: int) -> str:
    first17 = f"91110000{n:09d}"
    return first17 + uscc_check_character(first17)


def admin(step: str) -> CommandContext:
    return CommandContext(Principal(Role.ADMIN, "registrar"), correlation_id=f"corr-{step}")


def member(member_id: uuid.UUID, step: str) -> CommandContext:
    return CommandContext(Principal(Role.MEMBER, str(member_id), member_id), correlation_id=f"corr-{step}")


@pytest.fixture
def app(fresh_database: str) -> Iterator[IpRegistryApplication]:
    application = IpRegistryApplication(env=persistence_env(fresh_database), clock=FixedClock.on(TODAY))
    yield application
    application.close()


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(fresh_database, schema)
    yield engine
    await engine.dispose()


def make_every_change(app: IpRegistryApplication) -> None:
    """One of each kind of change the registry records."""
    uni, corp, lab = (
        app.admit_member(admin("admit"), name=name, kind=kind, state_established=True, credit_code=credit_code(n),
                         effective_date=SINCE)
        for n, name, kind in ((1, "Uni", "university"), (2, "Corp", "enterprise"), (3, "Lab", "research_institute"))
    )  # fmt: skip
    app.suspend_member(admin("suspend"), lab, "dues unpaid", date(2023, 1, 1))
    app.reinstate_member(admin("reinstate"), lab, "dues paid", date(2023, 2, 1))
    alice = app.register_researcher(member(uni, "researcher"), name="Alice", member_id=uni, effective_date=SINCE)
    bob = app.register_researcher(admin("researcher"), name="Bob", member_id=corp, effective_date=SINCE)
    app.change_affiliation(admin("affiliation"), bob, lab, date(2022, 1, 1))

    def registration(number: str, **changes: object) -> AssetRegistration:
        fields: dict[str, object] = {
            "title": f"Invention {number}", "kind": "invention_patent", "jurisdiction": "CN", "registered_by": uni,
            "owners": {uni: 6000, corp: 4000}, "inventors": [InventorClaim(alice, 7000), InventorClaim(bob, 3000)],
            "application_number": number, "status": "filed", "disclosure_date": date(2021, 1, 15),
            "filing_date": date(2021, 3, 1),
        }  # fmt: skip
        return AssetRegistration(**{**fields, **changes})  # type: ignore[arg-type]

    patent = app.register_asset(member(uni, "register"), registration("202110012345.9"))
    app.confirm_co_ownership(member(corp, "confirm"), patent, corp, date(2021, 3, 1))
    declined = app.register_asset(member(uni, "register"), registration("202110012343.X"))
    app.decline_co_ownership(member(corp, "decline"), declined, corp, "we paid for all of it")
    app.propose_ownership(member(uni, "propose"), declined, {uni: 5000, lab: 5000}, date(2021, 3, 1))
    app.confirm_co_ownership(member(lab, "confirm"), declined, lab)
    app.transfer_shares(admin("transfer"), patent, from_member_id=uni, to_member_id=lab, share_bps=1000,
                        effective_date=date(2022, 1, 1), request_id="t-1")  # fmt: skip
    app.publish(member(uni, "publish"), patent, "CN113000000A", date(2021, 9, 1))
    app.grant(member(uni, "grant"), patent, "ZL202110012345.9", date(2023, 2, 1), date(2041, 3, 1))
    app.tag_strategic_reserve(member(uni, "tag"), patent, "key_core")
    app.correct_inventors(member(uni, "correct"), patent, [InventorClaim(alice, 5000), InventorClaim(bob, 5000)],
                          "Bob's share was understated")  # fmt: skip
    app.record_cost(member(uni, "cost"), patent, kind="annuity", amount=Money(90_000, "CNY"), paid_by=uni,
                    effective_date=date(2024, 3, 1))  # fmt: skip
    app.end_asset(member(uni, "end"), patent, "lapsed", date(2024, 5, 1), "annuity unpaid")
    disclosure = app.register_asset(
        member(uni, "register"),
        registration("", status="disclosed", filing_date=None, owners={uni: 10_000}, strategic_reserve=""),
    )
    app.file_application(member(uni, "file"), disclosure, "202410054321.3", date(2024, 4, 1))
    app.transfer_ownership(
        CommandContext(Principal(Role.SERVICE, "commercialization"), correlation_id="corr-assign"),
        TransferRequest(request_id="sale-1", asset_id=declined, from_owners={uni: 5000, lab: 5000},
                        assignee="Buyer Ltd", assignee_member_id=None, effective_date=date(2024, 5, 1)),
    )  # fmt: skip


async def publish_everything(relay: Relay) -> None:
    await relay.load_position()
    while await relay.publish_once():
        pass


async def read_topic(settings: BusSettings, topic: str) -> list[EventEnvelope]:
    """The topic from the beginning; each partition in offset order, as a consumer sees it."""
    return [
        decode_envelope(record.value)
        async for batch in bus.read_from_beginning(settings, [topic], idle_seconds=10)
        for record in batch
    ]


async def test_every_stored_change_is_on_the_topic_once_in_order_per_aggregate(
    app: IpRegistryApplication, engine: AsyncEngine, kafka_bootstrap: str
) -> None:
    settings = BusSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_partitions=3)
    topic = unique_topic("ip-registry")
    await bus.ensure_topics(settings, [topic])
    make_every_change(app)
    catalog = build_catalog()
    stored = [(n, *app.metadata_mapper.decode(n)) for n in app.notifications_after(0, 10_000)]
    published = [(n, e, meta) for n, e, meta in stored if catalog.publishes(e)]
    # What is not published is the registry's own bookkeeping, nothing else.
    assert {type(e) for _, e, _ in stored if not catalog.publishes(e)} == {OwnershipTransfer.Recorded}

    producer = bus.producer(settings)
    await producer.start()
    try:
        await publish_everything(Relay(app, catalog, producer, engine, topic, batch_size=7))
    finally:
        await producer.stop()
    on_topic = await read_topic(settings, topic)

    expected = {
        event_id(SOURCE, e.originator_id, e.originator_version): (
            catalog.payload(e).DESCRIPTOR.full_name, str(e.originator_id), e.originator_version, n.id,
            meta["principal"], meta["correlation_id"],
        )
        for n, e, meta in published
    }  # fmt: skip
    got = {
        env.event_id: (env.type, env.aggregate_id, env.aggregate_version, env.position, env.principal,
                       env.correlation_id)
        for env in on_topic
    }  # fmt: skip
    assert len(on_topic) == len(published)  # each once
    assert got == expected
    assert {t for t, *_ in got.values()} == {p.DESCRIPTOR.full_name for p in catalog.payload_types()}

    versions: dict[str, list[int]] = defaultdict(list)
    for env in on_topic:
        versions[env.aggregate_id].append(env.aggregate_version)
    stored_versions: dict[str, list[int]] = defaultdict(list)
    for _, e, _ in published:
        stored_versions[str(e.originator_id)].append(e.originator_version)
    assert versions == stored_versions

    decoder = PayloadDecoder(catalog.payload_types())
    for env in on_topic:
        assert env.source == SOURCE
        assert env.payload.TypeName() == env.type
        payload = decoder.decode(env)  # every payload unpacks as its declared type
        # each typed field set where its text is, and saying what the text says
        assert twin_disagreements(payload) == [], env.type
        assert twin_disagreements(env) == []
