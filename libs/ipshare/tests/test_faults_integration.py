"""Faults the relay and the consumers must survive, on the real PostgreSQL and a broker of their own:
a wiped broker, a poison event, and the refill a consumer reads again."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from eventsourcing.domain import Aggregate, event
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare import bus
from ipshare.consumer import Consumer, run_forever
from ipshare.envelope import EventCatalog, decode_envelope
from ipshare.eventstore import CommandContext, ServiceApplication, persistence_env
from ipshare.relay import RELEASED_HEADER, Relay, parked_events
from ipshare.settings import BusSettings
from ipshare_contracts.incubation.v1.events_pb2 import SpinOffFounded
from ipshare_devtools.embedded import Broker
from ipshare_devtools.testing.projections import NamesProjection, names

pytestmark = pytest.mark.integration
SOURCE = "faulty"


class Venture(Aggregate):
    @event("Founded")
    def __init__(self, name: object) -> None:
        self.name = name

    @event("Renamed")
    def rename(self, name: object) -> None:
        self.name = name

    @event("Noted")
    def note(self, text: str) -> None:
        self.note_text = text


class Ventures(ServiceApplication):
    source = SOURCE

    def found(self, name: object) -> uuid.UUID:
        venture = Venture(name)
        self.record(CommandContext(), venture)
        return venture.id

    def rename(self, venture_id: uuid.UUID, name: object) -> None:
        venture: Venture = self.repository.get(venture_id)
        venture.rename(name)
        self.record(CommandContext(), venture)

    def note(self, venture_id: uuid.UUID, text: str) -> None:
        venture: Venture = self.repository.get(venture_id)
        venture.note(text)
        self.record(CommandContext(), venture)


def catalog() -> EventCatalog:
    c = EventCatalog(SOURCE)
    c.register(Venture.Founded, SpinOffFounded)
    c.register(Venture.Renamed, SpinOffFounded)
    c.keep_private([Venture.Noted])
    return c


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test's own: it gets wiped."""
    own = Broker(log_path=tmp_path / "tansu.log")
    own.start()
    yield own
    own.stop()


@pytest.fixture
def settings(broker: Broker) -> BusSettings:
    return BusSettings(kafka_bootstrap_servers=broker.bootstrap_servers, topic_partitions=3)


@pytest.fixture
def app(fresh_database: str) -> Iterator[Ventures]:
    application = Ventures(env=persistence_env(fresh_database))
    yield application
    application.close()


async def topic_events(settings: BusSettings, topic: str, expected: int) -> list[tuple[int, bool]]:
    """(position, released) of every message on the topic, read from the beginning until `expected` came."""
    found: list[tuple[int, bool]] = []
    async with asyncio.timeout(20):
        while len(found) < expected:
            found = []
            async for batch in bus.read_from_beginning(settings, [topic], idle_seconds=1.0):
                found += [(decode_envelope(r.value).position, any(h == RELEASED_HEADER for h, _ in r.headers))
                          for r in batch]  # fmt: skip
            await asyncio.sleep(0.1)
    return sorted(found)


async def catch_up(relay: Relay) -> None:
    async with asyncio.timeout(20):
        while await relay.step() or await relay.lag():
            pass


def wipe(broker: Broker) -> None:
    """Stop the broker and start a new one on the same port: the memory engine forgets every topic."""
    broker.stop()
    broker.start()


async def relay_after_publishing(
    app: Ventures, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings, topic: str, count: int
) -> Relay:
    """A relay (checking its topic every 0.1 s) that has published `count` new ventures."""
    await bus.ensure_topics(settings, [topic])
    relay = Relay(app, catalog(), producer, engine, topic, bus_settings=settings, check_seconds=0.1, batch_size=2)
    await relay.start()
    for i in range(count):
        app.found(f"before {i}")
    await catch_up(relay)
    return relay


async def test_a_wiped_broker_gets_its_topic_back_refilled_from_the_store_and_is_reported_until_then(
    app: Ventures, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings, broker: Broker
) -> None:
    topic = f"test.wiped.{uuid.uuid4().hex[:8]}"
    relay = await relay_after_publishing(app, engine, producer, settings, topic, 5)
    assert [p for p, _ in await topic_events(settings, topic, 5)] == [1, 2, 3, 4, 5]

    await asyncio.to_thread(wipe, broker)
    assert await bus.missing_topics(settings, [topic]) == [topic]
    for i in range(2):
        app.found(f"after {i}")
    await asyncio.sleep(0.2)  # the next check is due
    await relay.step()
    reason = relay.not_ready_reason()
    assert reason is not None
    assert "missing" in reason
    await catch_up(relay)
    assert relay.not_ready_reason() is None
    assert [p for p, _ in await topic_events(settings, topic, 7)] == [1, 2, 3, 4, 5, 6, 7]


async def test_a_topic_recreated_empty_is_found_behind_the_store_and_refilled(
    app: Ventures, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings, broker: Broker
) -> None:
    """The broker came back and something (a consumer starting, an operator) recreated the topic
    before the relay looked: the topic exists, but holds less than the relay has published."""
    topic = f"test.recreated.{uuid.uuid4().hex[:8]}"
    relay = await relay_after_publishing(app, engine, producer, settings, topic, 5)

    await asyncio.to_thread(wipe, broker)
    await bus.ensure_topics(settings, [topic])  # back, and empty
    await asyncio.sleep(0.2)  # the next check is due
    await relay.step()
    reason = relay.not_ready_reason()
    assert reason is not None
    assert "behind" in reason
    await catch_up(relay)
    assert relay.not_ready_reason() is None
    assert [p for p, _ in await topic_events(settings, topic, 5)] == [1, 2, 3, 4, 5]


async def test_a_topic_holding_everything_twice_is_not_refilled(
    app: Ventures, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings
) -> None:
    """Re-sent batches only add to a topic: more messages than events published is no loss."""
    topic = f"test.resent.{uuid.uuid4().hex[:8]}"
    relay = await relay_after_publishing(app, engine, producer, settings, topic, 4)
    relay.position = 0  # as after a crash between publishing and storing the position
    await catch_up(relay)
    await asyncio.sleep(0.2)
    await relay.check_topic()
    assert relay.not_ready_reason() is None
    assert [p for p, _ in await topic_events(settings, topic, 8)] == [1, 1, 2, 2, 3, 3, 4, 4]


async def test_private_events_the_topic_never_gets_are_no_loss(
    app: Ventures, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings
) -> None:
    topic = f"test.private.{uuid.uuid4().hex[:8]}"
    relay = await relay_after_publishing(app, engine, producer, settings, topic, 2)
    [first, _] = app.created_ids(Venture.Founded)
    for i in range(3):
        app.note(first, f"private {i}")
    await catch_up(relay)
    await relay.check_topic()
    assert relay.not_ready_reason() is None
    assert [p for p, _ in await topic_events(settings, topic, 2)] == [1, 2]


async def test_a_consumer_whose_offset_lies_past_the_refilled_end_reads_again_and_applies_each_event_once(
    app: Ventures, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings
) -> None:
    topic = f"test.refill.{uuid.uuid4().hex[:8]}"
    await bus.ensure_topics(settings, [topic, f"{topic}.dlq"])
    relay = Relay(app, catalog(), producer, engine, topic, bus_settings=settings, check_seconds=0.1)
    await relay.start()
    first = [app.found(f"v{i}") for i in range(6)]
    await catch_up(relay)
    group = f"group-{uuid.uuid4().hex[:6]}"
    async with consuming(settings, group, topic, engine, producer):
        await wait_for_rows(engine, 6)

    # The topic is lost and refilled with fewer messages on a partition than the group committed.
    await bus.delete_topics(settings, [topic])
    await asyncio.sleep(0.2)
    app.rename(first[0], "renamed")
    await relay.step()
    await catch_up(relay)
    async with consuming(settings, group, topic, engine, producer):
        await wait_for_rows(engine, 7)
        await asyncio.sleep(1.0)  # anything doubled would have come by now
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(names)) == 7
        assert await conn.scalar(select(names.c.name).where(names.c.position == 7)) == "renamed"


@contextlib.asynccontextmanager
async def consuming(
    settings: BusSettings, group: str, topic: str, engine: AsyncEngine, producer: AIOKafkaProducer
) -> AsyncIterator[None]:
    """A consumer of the group running its loop, as in a service, until the block ends."""
    kafka = bus.consumer(settings, group, topic)
    consumer = Consumer(NamesProjection(topic), kafka, producer, f"{topic}.dlq", engine)  # type: ignore[arg-type]
    task = asyncio.create_task(run_forever(consumer))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await kafka.stop()


async def wait_for_rows(engine: AsyncEngine, count: int) -> None:
    async with asyncio.timeout(30):
        while True:
            async with engine.connect() as conn:
                if await conn.scalar(select(func.count()).select_from(names)) >= count:
                    return
            await asyncio.sleep(0.1)


async def test_a_poison_event_is_parked_its_aggregate_waits_the_others_go_on_and_a_retry_releases_it_in_order(
    app: Ventures, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings
) -> None:
    topic = f"test.poison.{uuid.uuid4().hex[:8]}"
    await bus.ensure_topics(settings, [topic, f"{topic}.dlq"])
    relay = Relay(app, catalog(), producer, engine, topic, max_message_bytes=2_000)
    await relay.start()
    healthy = app.found("healthy")  # 1
    huge = app.found("x" * 5_000)  # 2: over the limit
    app.found({"not": "a string"})  # 3: cannot be encoded
    app.rename(huge, "smaller now")  # 4: waits behind 2
    app.rename(healthy, "still healthy")  # 5: goes on
    await catch_up(relay)

    assert [p for p, _ in await topic_events(settings, topic, 2)] == [1, 5]
    async with engine.connect() as conn:
        parked = {row.position: row.reason for row in await conn.execute(select(parked_events))}
    assert set(parked) == {2, 3, 4}
    assert "over MAX_MESSAGE_BYTES" in parked[2]
    assert "cannot be encoded" in parked[3]
    assert parked[4] == "waits behind the parked event at position 2"
    app.rename(huge, "later still")  # 6: parked behind 2 as well, also after a restart
    restarted = Relay(app, catalog(), producer, engine, topic, max_message_bytes=2_000)
    await restarted.start()
    await catch_up(restarted)
    assert [p for p, _ in await topic_events(settings, topic, 2)] == [1, 5]

    # The operator raises the limit and asks for a retry: 2, 4 and 6 go out in order; 3 stays parked.
    released = Relay(app, catalog(), producer, engine, topic, max_message_bytes=100_000)
    await released.start()
    async with engine.begin() as conn:
        await conn.execute(update(parked_events).values(retry_requested=True))
    await catch_up(released)
    on_topic = await topic_events(settings, topic, 5)
    assert on_topic == [(1, False), (2, True), (4, True), (5, False), (6, True)]
    async with engine.connect() as conn:
        [(position, reason)] = (await conn.execute(select(parked_events.c.position, parked_events.c.reason))).all()
    assert position == 3
    assert "still failing" in reason

    # A consumer applies the released events once, although their positions lie below its mark.
    group = f"group-{uuid.uuid4().hex[:6]}"
    consumer = Consumer(NamesProjection(topic), bus.consumer(settings, group, topic), producer, f"{topic}.dlq", engine)
    await consumer.kafka.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        async with asyncio.timeout(20):
            while sum(await consumer_rows(engine)) < 5:
                for tp, records in (await consumer.kafka.getmany(*partitions, timeout_ms=300)).items():
                    await consumer.handle(tp, records)
        for tp in partitions:  # the same messages again (a restart before the commit): nothing new
            consumer.kafka.seek(tp, 0)
        for _ in range(5):
            for tp, records in (await consumer.kafka.getmany(timeout_ms=300)).items():
                await consumer.handle(tp, records)
    finally:
        await consumer.kafka.stop()
    assert sorted(await consumer_rows(engine)) == [1, 1, 1, 1, 1]


async def consumer_rows(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(names.c.position, func.count()).group_by(names.c.position))
        return [count for _, count in rows]


async def test_a_refilled_topic_gets_again_what_an_aggregate_published_before_its_parked_event(
    app: Ventures, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings
) -> None:
    topic = f"test.refill-parked.{uuid.uuid4().hex[:8]}"
    await bus.ensure_topics(settings, [topic])
    relay = Relay(app, catalog(), producer, engine, topic, bus_settings=settings, check_seconds=0.1,
                  max_message_bytes=2_000)  # fmt: skip
    await relay.start()
    venture = app.found("small")  # 1: published
    app.rename(venture, "x" * 5_000)  # 2: parked
    await catch_up(relay)
    assert [p for p, _ in await topic_events(settings, topic, 1)] == [1]

    await bus.delete_topics(settings, [topic])
    await asyncio.sleep(0.2)
    await catch_up(relay)
    assert [p for p, _ in await topic_events(settings, topic, 1)] == [1]  # not parked behind a later event
    async with engine.connect() as conn:
        assert (await conn.scalars(select(parked_events.c.position))).all() == [2]
