"""The relay: publishes a service's stored events to its topic, in log order, at least once.

It reads the notification log after the last published position, publishes a
batch keyed by aggregate id, waits for the broker's acknowledgement of every
message, and only then stores the new position. A crash re-sends the batch; it
never skips one. Run one relay per service at a time, so the order holds.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaProducer
from sqlalchemy import BigInteger, Column, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.envelope import EventCatalog
from ipshare.eventstore import ServiceApplication
from ipshare.observability import EVENTS_PUBLISHED, RELAY_LAG, log

relay_metadata = MetaData()
relay_positions = Table(
    "relay_positions",
    relay_metadata,
    Column("topic", String, primary_key=True),
    Column("position", BigInteger, nullable=False),
)


class MessageTooLarge(RuntimeError):
    pass


class Relay:
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
    ) -> None:
        self.app, self.catalog, self.producer, self.engine = app, catalog, producer, engine
        self.topic = topic
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.max_message_bytes = max_message_bytes
        self._wake = asyncio.Event()
        self.position = 0

    def wake_threadsafe(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called from the thread that saved events: publish now, not at the next poll."""
        loop.call_soon_threadsafe(self._wake.set)

    async def load_position(self) -> int:
        async with self.engine.begin() as conn:
            await conn.run_sync(relay_metadata.create_all)
            stored = await conn.scalar(select(relay_positions.c.position).where(relay_positions.c.topic == self.topic))
        self.position = int(stored or 0)
        return self.position

    async def _store_position(self, position: int) -> None:
        statement = insert(relay_positions).values(topic=self.topic, position=position)
        statement = statement.on_conflict_do_update(index_elements=["topic"], set_={"position": position})
        async with self.engine.begin() as conn:
            await conn.execute(statement)

    async def publish_once(self) -> int:
        """Publish the next batch; returns how many stored events it covered."""
        notifications = await asyncio.to_thread(self.app.notifications_after, self.position, self.batch_size)
        if not notifications:
            return 0
        acks = []
        for notification in notifications:
            event, meta = self.app.metadata_mapper.decode(notification)
            if not self.catalog.publishes(event):
                continue
            data = self.catalog.envelope(notification.id, event, meta).SerializeToString()
            if len(data) > self.max_message_bytes:
                raise MessageTooLarge(f"event at position {notification.id} is {len(data)} bytes")
            key = str(notification.originator_id).encode()
            acks.append(await self.producer.send(self.topic, value=data, key=key))
        await asyncio.gather(*acks)  # every message acknowledged before the position moves
        self.position = notifications[-1].id
        await self._store_position(self.position)
        EVENTS_PUBLISHED.labels(self.catalog.source).inc(len(acks))
        return len(notifications)

    async def lag(self) -> int:
        latest = await asyncio.to_thread(self.app.recorder.max_notification_id)
        return max(0, (latest or 0) - self.position)

    async def run(self) -> None:
        await self.load_position()
        log.info("relay started", topic=self.topic, position=self.position)
        while True:
            self._wake.clear()  # a save during this batch sets it again
            try:
                published = await self.publish_once()
                RELAY_LAG.labels(self.catalog.source).set(await self.lag())
            except Exception:
                log.exception("relay batch failed; retrying", topic=self.topic, position=self.position)
                await asyncio.sleep(1.0)
                continue
            if published < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
