"""Consumers: apply other services' events to a projection, exactly once in effect.

Messages are read in batches with a consumer group and manual commits. Each
batch is applied in one database transaction together with the highest log
position applied per (topic, partition); a redelivered event is at or below
that mark and changes nothing. The Kafka offset is committed only after the
database commit. A message that cannot be decoded goes to the dead-letter
topic with the reason, and the consumer goes on. An event whose message
carries a W3C `traceparent` is applied in a span continuing that trace.

Two kinds of message arrive out of log order, and are kept apart from the marks:

- an event the relay had parked and an admin released (header `ipshare-released`): its position
  lies below the mark, so it is applied once by its event id (`consumer_released_events`);
- after a lost topic is refilled, a committed offset may lie past the new end: the broker answers
  "out of range" and the consumer starts the partition again from the beginning
  (`auto_offset_reset="earliest"`); the marks skip what was applied already.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from google.protobuf.message import Message
from opentelemetry import trace
from opentelemetry.context import Context
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipshare.envelope import PayloadDecoder, UndecodableEvent, decode_envelope
from ipshare.follower import RetryPolicy
from ipshare.observability import CONSUMER_LAG, DEAD_LETTERED, EVENTS_APPLIED, log
from ipshare.relay import RELEASED_HEADER
from ipshare.tracing import context_of_headers, process_span, trace_headers_of
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope

consumer_metadata = MetaData()
applied_marks = Table(
    "consumer_applied_marks",
    consumer_metadata,
    Column("consumer", String, primary_key=True),
    Column("topic", String, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("position", BigInteger, nullable=False),
)
released_events = Table(
    "consumer_released_events",
    consumer_metadata,
    Column("consumer", String, primary_key=True),
    Column("event_id", String, primary_key=True),
)


@dataclass(frozen=True, slots=True)
class InboundEvent:
    envelope: EventEnvelope
    payload: Message
    released: bool = False  # published late by the relay, out of log order
    trace: Context | None = None  # the publisher's span, from the message's headers
    offset: int = 0


class Projection(Protocol):
    """What a consumer feeds: a name (its consumer group), its topics and a batch handler."""

    name: str
    topics: Sequence[str]
    decoder: PayloadDecoder

    async def apply(self, conn: AsyncConnection, events: Sequence[InboundEvent]) -> None:
        """Apply events (already deduplicated) inside the caller's transaction."""


class Consumer:
    def __init__(
        self,
        projection: Projection,
        kafka: AIOKafkaConsumer,
        dead_letters: AIOKafkaProducer,
        dead_letter_topic: str,
        engine: AsyncEngine,
    ) -> None:
        self.projection = projection
        self.kafka = kafka
        self.dead_letters = dead_letters
        self.dead_letter_topic = dead_letter_topic
        self.engine = engine

    async def run(self) -> None:
        while True:
            batches = await self.kafka.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batches.items():
                try:
                    await self.handle(tp, records)
                except Exception:
                    # Nothing of this batch is committed: read it again after the restart.
                    self.kafka.seek(tp, records[0].offset)
                    raise

    async def handle(self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        events: list[InboundEvent] = []
        for record in records:
            try:
                envelope = decode_envelope(record.value)
                if self.projection.decoder.knows(envelope.type):
                    headers = record.headers
                    released = any(name == RELEASED_HEADER for name, _ in headers or ())
                    events.append(InboundEvent(envelope, self.projection.decoder.decode(envelope), released,
                                               context_of_headers(headers), record.offset))  # fmt: skip
            except UndecodableEvent as exc:
                await self.dead_letter(record, str(exc))
        applied = await self.apply(tp, events)
        await self.kafka.commit({tp: records[-1].offset + 1})
        EVENTS_APPLIED.labels(self.projection.name, tp.topic).inc(applied)
        highwater = self.kafka.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self.projection.name, tp.topic, str(tp.partition)).set(
                max(0, highwater - records[-1].offset - 1)
            )

    async def apply(self, tp: TopicPartition, events: Sequence[InboundEvent]) -> int:
        if not events:
            return 0
        key = {"consumer": self.projection.name, "topic": tp.topic, "partition": tp.partition}
        async with self.engine.begin() as conn:
            mark = await conn.scalar(
                select(applied_marks.c.position)
                .where(*(applied_marks.c[k] == v for k, v in key.items()))
                .with_for_update()
            )
            fresh, top = _after_mark([e for e in events if not e.released], mark or 0)
            fresh += await self._first_releases(conn, [e for e in events if e.released])
            if not fresh:
                return 0
            with self._traced(tp, fresh):
                await self.projection.apply(conn, fresh)
                if top > (mark or 0):
                    upsert = insert(applied_marks).values(**key, position=top)
                    excluded = {"position": upsert.excluded.position}
                    await conn.execute(upsert.on_conflict_do_update(index_elements=list(key), set_=excluded))
        return len(fresh)

    @contextlib.contextmanager
    def _traced(self, tp: TopicPartition, events: Sequence[InboundEvent]) -> Iterator[None]:
        """A span per applied event that came with a trace context, each continuing its publisher's trace.
        The batch is one transaction: its log lines fall in the first such span."""
        spans = [
            process_span(self.projection.name, tp.topic, tp.partition, e.offset, e.trace, e.envelope.event_id,
                         e.envelope.type)
            for e in events if e.trace is not None
        ]  # fmt: skip
        if not spans:
            yield
            return
        try:
            with trace.use_span(spans[0], record_exception=True, set_status_on_exception=True):
                yield
        finally:
            for span in spans:
                span.end()

    async def _first_releases(self, conn: AsyncConnection, events: Sequence[InboundEvent]) -> list[InboundEvent]:
        """The released events not applied before, by event id."""
        fresh = []
        for inbound in events:
            claimed = await conn.scalar(
                insert(released_events)
                .values(consumer=self.projection.name, event_id=inbound.envelope.event_id)
                .on_conflict_do_nothing()
                .returning(released_events.c.event_id)
            )
            if claimed is not None:
                fresh.append(inbound)
        return fresh

    async def dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        headers = [
            *trace_headers_of(record.headers),
            ("reason", reason.encode()),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode()),
        ]
        await self.dead_letters.send_and_wait(
            self.dead_letter_topic, value=record.value, key=record.key, headers=headers
        )
        DEAD_LETTERED.labels(self.projection.name, record.topic).inc()
        log.warning("dead-lettered a message", topic=record.topic, offset=record.offset, reason=reason)


def _after_mark(events: Sequence[InboundEvent], mark: int) -> tuple[list[InboundEvent], int]:
    """Events past the mark; within a partition a re-sent event never lies past one seen before it."""
    fresh = []
    for inbound in events:
        if inbound.envelope.position > mark:
            fresh.append(inbound)
            mark = inbound.envelope.position
    return fresh, mark


CONSUMER_RETRY = RetryPolicy(first=0.5, cap=10.0)


async def run_forever(consumer: Consumer, retry: RetryPolicy = CONSUMER_RETRY) -> None:
    """Start a consumer's Kafka client, then run it, restarting its loop after unexpected errors (logged,
    with backoff and jitter). Started here, in the consumer's own task: joining the group can take a
    session timeout after a restart, and the service serves meanwhile."""
    name = f"consumer:{consumer.projection.name}"
    await retry.call(name, consumer.kafka.start)
    await retry.call(name, consumer.run)
