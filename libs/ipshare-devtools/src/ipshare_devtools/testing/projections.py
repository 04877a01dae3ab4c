"""A small service and projection for tests of the relay and the consumer: `Incubator` records spin-offs
(published as `SpinOffFounded`), `NamesProjection` keeps each applied event's name as a row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from eventsourcing.domain import Aggregate, event
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from ipshare.consumer import InboundEvent
from ipshare.envelope import EventCatalog, PayloadDecoder
from ipshare.eventstore import CommandContext, ServiceApplication
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


class SpinOff(Aggregate):
    class Founded(Aggregate.Created):
        name: str
        asset_ids: list[str]
        founded_via: str
        effective_date: date

    class Renamed(Aggregate.Event):
        name: str

    @event(Founded)
    def __init__(self, name: str, asset_ids: list[str], founded_via: str, effective_date: date) -> None:
        self.name = name

    @event(Renamed)
    def rename(self, name: str) -> None:
        self.name = name


class Incubator(ServiceApplication):
    """A service of one use case, founding spin-offs."""

    source = "test-incubation"

    def found(self, ctx: CommandContext, name: str) -> uuid.UUID:
        spin_off = SpinOff(name, [str(uuid.uuid4())], "license", date(2026, 3, 1))
        self.record(ctx, spin_off)
        return spin_off.id

    def rename(self, ctx: CommandContext, spin_off_id: uuid.UUID, name: str) -> None:
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        spin_off.rename(name)
        self.record(ctx, spin_off)


def catalog() -> EventCatalog:
    """The incubator publishes its spin-offs as `SpinOffFounded`."""
    c = EventCatalog("test-incubation")
    c.register(SpinOff.Founded, SpinOffFounded)
    c.keep_private([SpinOff.Renamed])
    return c
