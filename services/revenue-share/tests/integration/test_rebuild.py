"""The replay from the topics into a fresh database, on the real PostgreSQL and a broker of its own.

The replay builds its ledger in this process while a second process COPYs the facts into
the new database: the rebuilt database must serve exactly the statements that were issued.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from ipshare import bus
from ipshare.consumer import consumer_metadata
from ipshare.database import open_engine
from ipshare.embedded import Broker
from ipshare.eventstore import persistence_env
from ipshare.settings import BusSettings
from revenue_share.adapters.inbox import FactRow, fact_of, metadata
from revenue_share.application import Payouts, RevenueShareApplication
from revenue_share.catalog import SOURCE, build_catalog
from revenue_share.domain.facts import Period
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.statements import statement_hash
from revenue_share.ledger_feed import add_fact
from revenue_share.rebuild import rebuild
from revenue_share.replay import LearnedAt
from revenue_share.replay_writer import REPLAY, ReplayWriter, ReplayWriterFailed

from .conftest import FINANCE, slice_events

pytestmark = pytest.mark.integration

PERIOD, START, END = "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)
LEARNED = datetime(2026, 12, 1, tzinfo=UTC)
CLOSED = datetime(2027, 1, 5, 9, tzinfo=UTC)


@pytest.fixture
def bus_settings(tmp_path: Path) -> Iterator[BusSettings]:
    """A broker of the test's own: the replay reads the service topics from their beginning."""
    broker = Broker(log_path=tmp_path / "broker.log")
    settings = BusSettings(kafka_bootstrap_servers=broker.start(), topic_partitions=2)
    yield settings
    broker.stop()


async def _publish(settings: BusSettings, messages: list[tuple[str, bytes, bytes]]) -> dict[tuple[str, int], int]:
    """Send (topic, key, value) messages; returns the partitions each landed on, with their count."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    landed: dict[tuple[str, int], int] = {}
    try:
        for topic, key, value in messages:
            sent = await (await producer.send(topic, value, key=key))
            landed[(sent.topic, sent.partition)] = landed.get((sent.topic, sent.partition), 0) + 1
    finally:
        await producer.stop()
    return landed


async def test_a_rebuilt_database_serves_the_issued_statements(bus_settings: BusSettings, fresh_database: str) -> None:
    events = slice_events()
    topics = [bus.topic_of(s) for s in ("ip-registry", "commercialization", "incubation", SOURCE)]
    await bus.ensure_topics(bus_settings, topics)
    landed = await _publish(
        bus_settings,
        [(bus.topic_of(e.envelope.source), e.envelope.aggregate_id.encode(), e.envelope.SerializeToString())
         for e in events],
    )  # fmt: skip
    # The live service had learned every fact when it closed the period, and said so on its topic.
    ledger = Ledger()
    for seq, event in enumerate(events, start=1):
        kind, body = fact_of(event) or ("", {})
        add_fact(ledger, FactRow(seq, event.envelope.event_id, kind, body, LEARNED, event.envelope.position))
    live = RevenueShareApplication(persistence_env(None))
    live.open_period(REPLAY, PERIOD, START, END)
    ledger.define_period(Period(PERIOD, START, END))
    marks = [{"topic": t, "partition": p, "position": max(e.envelope.position for e in events)} for t, p in landed]
    issued_hash = live.record_close(REPLAY, PERIOD, CLOSED, ledger.close_period(PERIOD, CLOSED), marks)
    catalog = build_catalog()
    issued = [
        (bus.topic_of(SOURCE), str(n.originator_id).encode(), catalog.envelope(n.id, event, {}).SerializeToString())
        for n in live.notifications_after(0, 1_000)
        if catalog.publishes(event := live.mapper.to_domain_event(n))
    ]
    await _publish(bus_settings, issued)

    report = await rebuild(bus_settings, fresh_database, lambda *_: None)

    assert report.identical, report.checks
    assert (report.facts, report.checks[0].replayed_hash) == (len(events), issued_hash)
    engine = await open_engine(fresh_database, metadata, consumer_metadata)
    rebuilt = RevenueShareApplication(persistence_env(fresh_database))
    try:  # the service started on the rebuilt database: its inbox, as the second process copied it
        assert statement_hash(await Payouts(rebuilt, engine).statements(FINANCE, PERIOD)) == issued_hash
    finally:
        rebuilt.close()
        await engine.dispose()


async def test_a_writer_that_cannot_write_fails_the_replay(bus_settings: BusSettings) -> None:
    writer = ReplayWriter()
    writer.start()
    try:
        writer.begin(bus_settings, "postgresql://nobody@127.0.0.1:1/nothing", LearnedAt([], LEARNED))
        with pytest.raises(ReplayWriterFailed, match=r"writing the new database failed: .*Connect"):
            await writer.finish()
    finally:
        writer.stop()
