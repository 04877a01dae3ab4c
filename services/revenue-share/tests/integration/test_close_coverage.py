"""A close covers what the source topics held when it was requested, on the real broker and PostgreSQL:
a receipt published but not yet applied by the inbox is waited for, not moved to the next period."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare import bus
from ipshare.consumer import Consumer, InboundEvent, run_forever
from ipshare.settings import BusSettings
from revenue_share.adapters.inbox import InboxProjection
from revenue_share.adapters.source_topics import SourceTopics
from revenue_share.application import InboxBehind, Payouts, RevenueShareApplication
from revenue_share.catalog import SOURCE

from .conftest import FINANCE, RECEIPT, publish, slice_events

pytestmark = pytest.mark.integration

GROUP = bus.group_of(SOURCE, InboxProjection.name)


async def _published(settings: BusSettings, events: list[InboundEvent]) -> None:
    await bus.ensure_topics(settings, [*InboxProjection.topics, bus.dead_letter_topic_of(SOURCE)])
    await publish(settings, [(bus.topic_of(e.envelope.source), e.envelope.aggregate_id.encode(),
                              e.envelope.SerializeToString()) for e in events])  # fmt: skip


@contextlib.asynccontextmanager
async def _inbox_consumer(settings: BusSettings, engine: AsyncEngine) -> AsyncIterator[None]:
    """The service's inbox consumer, as the runtime runs it."""
    kafka = bus.consumer(settings, GROUP, *InboxProjection.topics)
    dead_letters = bus.producer(settings)
    await dead_letters.start()  # run_forever starts `kafka`, as in the runtime
    running = asyncio.ensure_future(
        run_forever(Consumer(InboxProjection(), kafka, dead_letters, bus.dead_letter_topic_of(SOURCE), engine))
    )
    try:
        yield
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await kafka.stop()
        await dead_letters.stop()


async def test_a_close_waits_for_a_receipt_published_before_it_was_requested(
    bus_settings: BusSettings, engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    events = slice_events()
    receipt = events[-1].envelope
    await _published(bus_settings, events)  # the receipt is on the topic; the inbox has not read it
    application.open_period(FINANCE, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
    payouts = Payouts(application, engine, SourceTopics(bus_settings, GROUP, InboxProjection.topics), 60)

    close = asyncio.ensure_future(payouts.close(FINANCE, "2026-Q4"))
    await asyncio.sleep(1.5)
    waited = not close.done()
    async with _inbox_consumer(bus_settings, engine):
        digest = await asyncio.wait_for(close, 60)

    statements = await payouts.statements(FINANCE, "2026-Q4")
    covers = {(m["topic"], m["partition"]): m["position"] for m in application.period("2026-Q4").marks}
    assert waited, "the close did not wait for the inbox"
    assert sum(b.entitled for s in statements for b in s.balances) == RECEIPT
    assert application.period("2026-Q4").statement_hash == digest
    assert receipt.position in {p for (topic, _), p in covers.items() if topic == bus.topic_of("commercialization")}


async def test_a_close_the_inbox_cannot_catch_up_with_is_refused_with_the_lag(
    bus_settings: BusSettings, engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    await _published(bus_settings, slice_events())
    application.open_period(FINANCE, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
    payouts = Payouts(application, engine, SourceTopics(bus_settings, GROUP, InboxProjection.topics), 0.5)

    with pytest.raises(InboxBehind) as refused:
        await payouts.close(FINANCE, "2026-Q4")  # no consumer runs

    assert "has not yet applied 5 messages" in str(refused.value)
    assert sum(refused.value.details["lag"].values()) == 5
    assert application.period("2026-Q4").closed_at is None


async def test_a_close_that_cannot_reach_the_broker_is_refused_and_the_period_stays_open(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    application.open_period(FINANCE, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
    nowhere = BusSettings(kafka_bootstrap_servers="127.0.0.1:1")
    payouts = Payouts(application, engine, SourceTopics(nowhere, GROUP, InboxProjection.topics), 0.5)

    with pytest.raises(InboxBehind, match="cannot tell how far the source topics reach"):
        await payouts.close(FINANCE, "2026-Q4")

    assert application.period("2026-Q4").closed_at is None
