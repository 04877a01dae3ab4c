"""The relay and the consumer against the real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opentelemetry.trace import SpanKind
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare import bus
from ipshare.auth import Principal, Role
from ipshare.consumer import Consumer
from ipshare.envelope import decode_envelope, event_id
from ipshare.eventstore import CommandContext, persistence_env
from ipshare.relay import Relay
from ipshare.settings import BusSettings
from ipshare.tracing import tracer
from ipshare_contracts.incubation.v1.events_pb2 import SpinOffFounded
from ipshare_devtools.testing.projections import Incubator, NamesProjection, catalog, names
from ipshare_devtools.testing.traces import record_spans

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(kafka_bootstrap: str) -> BusSettings:
    return BusSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_partitions=3)


@pytest.fixture
def app(fresh_database: str) -> AsyncIterator[Incubator]:
    application = Incubator(env=persistence_env(fresh_database))
    yield application
    application.close()


async def read_all(settings: BusSettings, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    """Read a topic from the beginning without a group (no join wait) until `expected` messages."""
    consumer = bus.consumer(settings, None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or {0}]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        got: list[tuple[bytes, bytes]] = []
        async with asyncio.timeout(15):
            while len(got) < expected:
                batches = await consumer.getmany(timeout_ms=200)
                got += [(m.key, m.value) for records in batches.values() for m in records]
        return got
    finally:
        await consumer.stop()


async def test_relay_publishes_exactly_the_stored_events_with_their_metadata(
    app: Incubator, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings
) -> None:
    topic = f"test.relay.{uuid.uuid4().hex[:8]}"
    await bus.ensure_topics(settings, [topic])
    ctx = CommandContext(Principal(Role.INCUBATOR, "ines"), correlation_id="corr-42")
    ids = [app.found(ctx, f"spin-off {i}") for i in range(5)]
    relay = Relay(app, catalog(), producer, engine, topic)
    await relay.load_position()
    assert await relay.publish_once() == 5
    messages = await read_all(settings, topic, 5)
    envelopes = sorted((decode_envelope(v) for _, v in messages), key=lambda e: e.position)
    assert [e.position for e in envelopes] == [1, 2, 3, 4, 5]
    assert [uuid.UUID(e.aggregate_id) for e in envelopes] == ids
    assert all(key == decode_envelope(value).aggregate_id.encode() for key, value in messages)
    first = envelopes[0]
    assert first.event_id == event_id("test-incubation", ids[0], 1)
    assert first.type == "ipshare.incubation.v1.SpinOffFounded"
    assert (first.principal, first.correlation_id, first.effective_date) == ("incubator:ines", "corr-42", "2026-03-01")
    payload = SpinOffFounded()
    assert first.payload.Unpack(payload)
    assert payload.name == "spin-off 0"

    # A restarted relay resumes from the stored position: nothing is published twice.
    restarted = Relay(app, catalog(), producer, engine, topic)
    assert await restarted.load_position() == 5
    assert await restarted.publish_once() == 0


async def test_relay_puts_published_events_on_the_topic_and_private_ones_never(
    app: Incubator, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings
) -> None:
    topic = f"test.private.{uuid.uuid4().hex[:8]}"
    await bus.ensure_topics(settings, [topic])
    first = app.found(CommandContext(), "first")
    app.rename(CommandContext(), first, "first, renamed")
    app.found(CommandContext(), "second")
    relay = Relay(app, catalog(), producer, engine, topic)
    await relay.load_position()
    assert await relay.publish_once() == 3  # the private event is passed over, not waited on
    whole_topic = [
        decode_envelope(record.value)
        async for batch in bus.read_from_beginning(settings, [topic], idle_seconds=10)
        for record in batch
    ]
    assert sorted((e.position, e.type) for e in whole_topic) == [
        (1, "ipshare.incubation.v1.SpinOffFounded"),
        (3, "ipshare.incubation.v1.SpinOffFounded"),
    ]


async def test_a_crash_before_the_position_is_stored_resends_and_the_consumer_applies_once(
    app: Incubator, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings
) -> None:
    topic = f"test.redelivery.{uuid.uuid4().hex[:8]}"
    await bus.ensure_topics(settings, [topic, f"{topic}.dlq"])
    for i in range(4):
        app.found(CommandContext(), f"s{i}")
    relay = Relay(app, catalog(), producer, engine, topic)
    await relay.load_position()
    await relay.publish_once()
    relay.position = 0  # as if the process died before storing the position
    await relay.publish_once()
    assert len(await read_all(settings, topic, 8)) == 8  # every event is on the topic twice

    consumer = await start_consumer(settings, topic, engine, producer)
    try:
        await drain(consumer, 8)
    finally:
        await consumer.kafka.stop()
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(names)) == 4


async def test_an_undecodable_message_goes_to_the_dead_letter_topic_and_the_consumer_goes_on(
    app: Incubator, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings
) -> None:
    topic = f"test.dlq.{uuid.uuid4().hex[:8]}"
    await bus.ensure_topics(settings, [topic, f"{topic}.dlq"])
    await producer.send_and_wait(topic, b"\xff\x00 not protobuf", key=b"k", partition=0)
    app.found(CommandContext(), "after the garbage")
    await publish_and_consume(app, engine, producer, settings, topic, 2)
    async with engine.connect() as conn:
        assert await conn.scalar(select(names.c.name)) == "after the garbage"
    dead = bus.consumer(settings, None)
    await dead.start()
    try:
        dead.assign([TopicPartition(f"{topic}.dlq", p) for p in range(3)])
        await dead.seek_to_beginning()
        async with asyncio.timeout(10):
            records: list[object] = []
            while not records:
                records = [m for ms in (await dead.getmany(timeout_ms=200)).values() for m in ms]
        [record] = records
        headers = dict(record.headers)  # type: ignore[attr-defined]
        assert b"not an EventEnvelope" in headers["reason"]
        assert headers["source_topic"] == topic.encode()
    finally:
        await dead.stop()


async def start_consumer(
    settings: BusSettings, topic: str, engine: AsyncEngine, producer: AIOKafkaProducer
) -> Consumer:
    kafka: AIOKafkaConsumer = bus.consumer(settings, f"group-{uuid.uuid4().hex[:6]}", topic)
    await kafka.start()
    consumer = Consumer(NamesProjection(topic), kafka, producer, f"{topic}.dlq", engine)
    return consumer


async def publish_and_consume(
    app: Incubator, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings, topic: str, expected: int
) -> None:
    """The relay publishes what is stored; a new consumer reads `expected` messages of the topic."""
    relay = Relay(app, catalog(), producer, engine, topic)
    await relay.load_position()
    await relay.publish_once()
    consumer = await start_consumer(settings, topic, engine, producer)
    try:
        await drain(consumer, expected)
    finally:
        await consumer.kafka.stop()


async def drain(consumer: Consumer, expected: int) -> None:
    seen = 0
    async with asyncio.timeout(20):
        while seen < expected:
            for tp, records in (await consumer.kafka.getmany(timeout_ms=300)).items():
                await consumer.handle(tp, records)
                seen += len(records)


async def test_one_trace_runs_from_the_recording_request_through_the_relay_to_the_consumer(
    app: Incubator, engine: AsyncEngine, producer: AIOKafkaProducer, settings: BusSettings
) -> None:
    topic = f"test.trace.{uuid.uuid4().hex[:8]}"
    await bus.ensure_topics(settings, [topic, f"{topic}.dlq"])
    with record_spans() as spans:
        with tracer.start_as_current_span("POST /spin-offs") as request:
            app.found(CommandContext(), "traced")
        app.found(CommandContext(), "untraced")
        await publish_and_consume(app, engine, producer, settings, topic, 2)  # later, in no span of its own
    trace_id = request.get_span_context().trace_id
    in_trace = {s.kind: s for s in spans.get_finished_spans() if s.context.trace_id == trace_id}
    assert set(in_trace) == {SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER}
    publish, process = in_trace[SpanKind.PRODUCER], in_trace[SpanKind.CONSUMER]
    assert publish.parent is not None
    assert publish.parent.span_id == request.get_span_context().span_id
    assert process.parent is not None
    assert process.parent.span_id == publish.context.span_id
    assert dict(process.attributes or {})["messaging.consumer.group.name"] == "names"
    consumed = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert len(consumed) == 1  # the untraced event was applied without a span
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(names)) == 2
