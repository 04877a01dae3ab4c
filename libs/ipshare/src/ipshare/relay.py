"""The relay: publishes a service's stored events to its topic, in log order, at least once.

It reads the notification log after the last published position, publishes a batch keyed by
aggregate id, waits for the broker's acknowledgement of every message, and only then stores the
new position. A crash re-sends the batch; it never skips one. One relay runs per service (the
leader's: `ipshare.leadership`), so the order holds. An event recorded inside a trace is published
in a span of that trace, with the W3C `traceparent` in the message's headers.

Two faults must not stop it:

- **A poison event** (one that cannot be encoded, or whose envelope is over `MAX_MESSAGE_BYTES`)
  is parked: a row in `parked_events` with the reason, a metric and a log line. Later events of
  the same aggregate are parked behind it (their order is the aggregate's history); other
  aggregates go on. An admin asks for a retry (`POST /admin/parked-events/retry`); the relay then
  publishes each aggregate's parked events in order, with the header `ipshare-released`, so
  consumers apply them although their positions lie below what they have seen since.
- **A lost topic** (a wiped broker, a deleted topic): every `check_seconds`, and after any failed
  batch, the relay asks the broker's metadata for its topic, and the topic's high watermarks for
  how many messages it has ever held. If the topic is gone, or holds fewer messages than events
  the relay has published (it was recreated empty, say by a consumer starting first), the relay
  recreates it if needed, sets its position back to the start and republishes the whole log;
  until it has caught up the service reports not-ready with the reason. Consumers take the
  refill as redeliveries. Re-sent batches only add messages, so they never look like a loss.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from eventsourcing.persistence import Notification
from opentelemetry import trace
from opentelemetry.context import Context
from sqlalchemy import BigInteger, Boolean, Column, DateTime, MetaData, String, Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare import bus
from ipshare.envelope import EventCatalog
from ipshare.eventstore import ServiceApplication
from ipshare.follower import Positions, positions_metadata
from ipshare.observability import EVENTS_PARKED, EVENTS_PUBLISHED, PARKED_EVENTS, RELAY_LAG, TOPIC_REFILLS, log
from ipshare.settings import BusSettings
from ipshare.tracing import KafkaHeaders, kafka_headers, publish_span, stored_trace_context

RELEASED_HEADER = "ipshare-released"

parked_metadata = MetaData()
parked_events = Table(
    "parked_events",
    parked_metadata,
    Column("topic", String, primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("aggregate_id", String, nullable=False, index=True),
    Column("reason", String, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
    Column("retry_requested", Boolean, nullable=False, default=False),
)
relay_metadata = MetaData()  # the relay's tables (made by the library's migrations)
for _table in (*positions_metadata.tables.values(), *parked_metadata.tables.values()):
    _table.to_metadata(relay_metadata)


class MessageTooLarge(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A stored event as the relay publishes it: the envelope's bytes, and the trace it was recorded in."""

    data: bytes
    event_id: str
    event_type: str
    trace: Context | None


@dataclass(frozen=True, slots=True)
class Parked:
    position: int
    aggregate_id: str
    reason: str


class Relay:
    name = "relay"

    def __init__(
        self,
        app: ServiceApplication,
        catalog: EventCatalog,
        producer: AIOKafkaProducer,
        engine: AsyncEngine,
        topic: str,
        *,
        batch_size: int = 1000,
        poll_seconds: float = 0.2,
        max_message_bytes: int = 1_000_000,
        bus_settings: BusSettings | None = None,
        check_seconds: float = 5.0,
    ) -> None:
        self.app, self.catalog, self.producer, self.engine = app, catalog, producer, engine
        self.topic = topic
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.max_message_bytes = max_message_bytes
        self.bus_settings = bus_settings  # None: the topic is never checked (tests of publishing alone)
        self.check_seconds = check_seconds
        self.positions = Positions(engine, f"relay:{topic}", legacy=("relay_positions", "topic", topic))
        self.position = 0
        self.blocked: dict[str, int] = {}  # aggregate id -> position of its first parked event
        self.refilling: str | None = None  # why the topic is being filled again, until it has caught up
        self._next_check = 0.0

    # -- the follower's steps ---------------------------------------------------------------

    async def start(self) -> None:
        await self.load_position()
        log.info("relay started", topic=self.topic, position=self.position, parked_aggregates=len(self.blocked))

    async def step(self) -> bool:
        try:
            if self.bus_settings is not None and time.monotonic() >= self._next_check:
                await self.check_topic()
            if self.blocked:
                await self.release_requested()
            published = await self.publish_once()
        except Exception:
            self._next_check = 0.0  # a failed batch may mean a lost topic: look before the retry
            raise
        lag = await self.lag()
        RELAY_LAG.labels(self.catalog.source).set(lag)
        if self.refilling and lag == 0:
            log.info("topic refilled from the event store", topic=self.topic, position=self.position)
            self.refilling = None
        return published >= self.batch_size

    # -- positions ------------------------------------------------------------------------------

    async def load_position(self) -> int:
        async with self.engine.begin() as conn:
            rows = await conn.execute(
                select(parked_events.c.aggregate_id, parked_events.c.position)
                .where(parked_events.c.topic == self.topic)
                .order_by(parked_events.c.position)
            )
            self.blocked = {}
            for aggregate_id, position in rows:
                self.blocked.setdefault(aggregate_id, position)
        self.position = await self.positions.load()
        PARKED_EVENTS.labels(self.catalog.source).set(await self._parked_count())
        return self.position

    async def _store(self, position: int, parked: Sequence[Parked]) -> None:
        """The new position and the events parked on the way there, in one transaction."""
        statement = insert(positions_metadata.tables["follower_positions"]).values(name=self.positions.name,
                                                                                 position=position)  # fmt: skip
        statement = statement.on_conflict_do_update(index_elements=["name"], set_={"position": position})
        async with self.engine.begin() as conn:
            if parked:
                now = datetime.now(UTC)
                rows = [{"topic": self.topic, "position": p.position, "aggregate_id": p.aggregate_id,
                         "reason": p.reason, "parked_at": now, "retry_requested": False} for p in parked]  # fmt: skip
                await conn.execute(insert(parked_events).values(rows).on_conflict_do_nothing())
            await conn.execute(statement)

    # -- publishing -------------------------------------------------------------------------------

    async def publish_once(self) -> int:
        """Publish the next batch; returns how many stored events it covered."""
        notifications = await asyncio.to_thread(self.app.notifications_after, self.position, self.batch_size)
        if not notifications:
            return 0
        acks = []
        parked: list[Parked] = []
        blocked = dict(self.blocked)  # kept only once the batch is stored: a failed batch is read again
        for notification in notifications:
            aggregate_id = str(notification.originator_id)
            first = blocked.get(aggregate_id)
            if first is not None and notification.id >= first:  # its history waits behind its parked event
                reason = f"waits behind the parked event at position {first}"
                parked.append(Parked(notification.id, aggregate_id, reason))
                continue
            try:
                outgoing = self.encode(notification)
            except Exception as exc:  # a poison event: park it, go on with the others
                parked.append(self._park(notification, f"cannot be encoded: {exc!r}", "unencodable"))
            else:
                if outgoing is None:
                    continue
                size = len(outgoing.data)
                if size <= self.max_message_bytes:
                    acks.append(await self.send(outgoing, aggregate_id))
                    continue
                reason = f"its envelope is {size} bytes, over MAX_MESSAGE_BYTES ({self.max_message_bytes})"
                parked.append(self._park(notification, reason, "too_large"))
            blocked[aggregate_id] = notification.id
        await asyncio.gather(*acks)  # every message acknowledged before the position moves
        await self._store(notifications[-1].id, parked)
        self.position, self.blocked = notifications[-1].id, blocked
        if parked:
            PARKED_EVENTS.labels(self.catalog.source).set(await self._parked_count())
        EVENTS_PUBLISHED.labels(self.catalog.source).inc(len(acks))
        return len(notifications)

    def encode(self, notification: Notification) -> Outgoing | None:
        """The event as published, or None for an event the service keeps to itself."""
        event, meta = self.app.metadata_mapper.decode(notification)
        if not self.catalog.publishes(event):
            return None
        envelope = self.catalog.envelope(notification.id, event, meta)
        return Outgoing(envelope.SerializeToString(), envelope.event_id, envelope.type, stored_trace_context(meta))

    async def send(
        self, outgoing: Outgoing, aggregate_id: str, headers: KafkaHeaders | None = None
    ) -> asyncio.Future[RecordMetadata]:
        """Hand one message to the producer; the future is the broker's acknowledgement. An event recorded
        in a trace is published in a span of that trace, whose context goes along in the headers."""
        key = aggregate_id.encode()
        if outgoing.trace is None:
            ack: asyncio.Future[RecordMetadata] = await self.producer.send(self.topic, value=outgoing.data, key=key,
                                                                           headers=headers)  # fmt: skip
            return ack
        span = publish_span(self.topic, outgoing.trace, outgoing.event_id, outgoing.event_type, aggregate_id)
        with trace.use_span(span, end_on_exit=True):
            headers = [*(headers or ()), *kafka_headers()]
            ack = await self.producer.send(self.topic, value=outgoing.data, key=key, headers=headers)
        return ack

    def _park(self, notification: Notification, reason: str, kind: str) -> Parked:
        aggregate_id = str(notification.originator_id)
        EVENTS_PARKED.labels(self.catalog.source, kind).inc()
        log.error("relay parked an event; later events of its aggregate wait behind it", topic=self.topic,
                  position=notification.id, aggregate_id=aggregate_id, reason=reason)  # fmt: skip
        return Parked(notification.id, aggregate_id, reason)

    async def release_requested(self) -> int:
        """Publish the parked events an admin asked to retry, each aggregate's in order; returns how many."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                select(parked_events.c.aggregate_id).distinct()
                .where(parked_events.c.topic == self.topic, parked_events.c.retry_requested)
            )).all()  # fmt: skip
        released = 0
        for (aggregate_id,) in rows:
            released += await self._release(aggregate_id)
        if rows:
            PARKED_EVENTS.labels(self.catalog.source).set(await self._parked_count())
        return released

    async def _release(self, aggregate_id: str) -> int:
        async with self.engine.connect() as conn:
            positions = (await conn.scalars(
                select(parked_events.c.position)
                .where(parked_events.c.topic == self.topic, parked_events.c.aggregate_id == aggregate_id)
                .order_by(parked_events.c.position)
            )).all()  # fmt: skip
        released = 0
        for position in positions:
            [notification] = await asyncio.to_thread(self.app.notifications_after, position - 1, 1)
            try:
                outgoing = self.encode(notification)
                if outgoing is not None and len(outgoing.data) > self.max_message_bytes:
                    raise MessageTooLarge(f"its envelope is {len(outgoing.data)} bytes, over MAX_MESSAGE_BYTES "
                                          f"({self.max_message_bytes})")  # fmt: skip
            except Exception as exc:  # still poison: it stays parked, and so does what waits behind it
                await self._keep_parked(aggregate_id, position, f"retried, still failing: {exc}")
                self.blocked[aggregate_id] = position
                return released
            if outgoing is not None:
                await (await self.send(outgoing, aggregate_id, [(RELEASED_HEADER, b"1")]))
            async with self.engine.begin() as conn:
                await conn.execute(delete(parked_events).where(parked_events.c.topic == self.topic,
                                                               parked_events.c.position == position))  # fmt: skip
            released += 1
        self.blocked.pop(aggregate_id, None)
        log.info("parked events released", topic=self.topic, aggregate_id=aggregate_id, count=released)
        return released

    async def _keep_parked(self, aggregate_id: str, position: int, reason: str) -> None:
        log.error("a parked event failed again", topic=self.topic, position=position, reason=reason)
        async with self.engine.begin() as conn:
            await conn.execute(update(parked_events).where(parked_events.c.topic == self.topic,
                                                           parked_events.c.aggregate_id == aggregate_id)
                               .values(retry_requested=False))  # fmt: skip
            await conn.execute(update(parked_events).where(parked_events.c.topic == self.topic,
                                                           parked_events.c.position == position)
                               .values(reason=reason[:2000]))  # fmt: skip

    async def _parked_count(self) -> int:
        async with self.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(parked_events).where(parked_events.c.topic == self.topic)
            )
        return int(count or 0)

    # -- the topic --------------------------------------------------------------------------------

    async def check_topic(self) -> None:
        """Recreate the topic and republish the log from the start when the broker has lost it,
        or holds fewer messages than the relay has published (it was recreated empty)."""
        assert self.bus_settings is not None
        self._next_check = time.monotonic() + self.check_seconds
        if await bus.missing_topics(self.bus_settings, [self.topic]):
            await self._refill(f"topic {self.topic} was missing from the broker")
            return
        held = await bus.message_count(self.bus_settings, self.topic)
        published = await self._published_count()
        if held < published:
            await self._refill(f"topic {self.topic} holds {held} messages, behind the {published} published")

    async def _published_count(self) -> int:
        """Events published so far, each counted once: the log's published events up to the position,
        less the parked (private events never go on the topic)."""
        published = self.catalog.published()
        through = await asyncio.to_thread(self.app.count_notifications_through, self.position, published)
        return through - await self._parked_count()

    async def _refill(self, why: str) -> None:
        assert self.bus_settings is not None
        self.refilling = f"{why}; republishing the event store from the start"
        TOPIC_REFILLS.labels(self.catalog.source).inc()
        log.error("topic lost; recreating it and republishing from the event store", topic=self.topic,
                  why=why, position_before=self.position)  # fmt: skip
        await bus.ensure_topics(self.bus_settings, [self.topic, bus.dead_letter_topic_of(self.catalog.source)])
        self.position = 0
        await self._store(0, ())

    def not_ready_reason(self) -> str | None:
        if self.refilling:
            return f"{self.refilling} (at position {self.position})"
        return None

    async def lag(self) -> int:
        latest = await asyncio.to_thread(self.app.recorder.max_notification_id)
        return max(0, (latest or 0) - self.position)
