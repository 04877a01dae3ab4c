"""A small projection for tests of the relay and the consumer: each applied event's name as a row."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from ipshare.consumer import InboundEvent
from ipshare.envelope import PayloadDecoder
from ipshare_contracts.incubation.v1.events_pb2 import SpinOffFounded

names_metadata = MetaData()
names = Table("names", names_metadata, Column("aggregate_id", String), Column("name", String),
              Column("position", Integer))  # fmt: skip


class NamesProjection:
    """Events published as `SpinOffFounded` payloads (any aggregate with a `name`), one row each."""

    name = "names"
    decoder = PayloadDecoder([SpinOffFounded])

    def __init__(self, topic: str) -> None:
        self.topics: Sequence[str] = (topic,)

    async def apply(self, conn: AsyncConnection, events: Sequence[InboundEvent]) -> None:
        rows = [{"aggregate_id": e.envelope.aggregate_id, "name": getattr(e.payload, "name", ""),
                 "position": e.envelope.position} for e in events]  # fmt: skip
        await conn.execute(names.insert(), rows)
