"""The replay from the topics into a fresh database, on the real PostgreSQL and a broker of its own.

The replay builds its ledger in this process while a second process COPYs the facts into
the new database: the rebuilt database must serve exactly the statements that were issued.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ipshare import bus
from ipshare.consumer import InboundEvent
from ipshare.database import open_engine
from ipshare.eventstore import persistence_env
from ipshare.settings import BusSettings
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry
from ipshare_contracts.money.v1.money_pb2 import Money
from ipshare_devtools.testing.typed_twins import twin_disagreements
from revenue_share.adapters.inbox import FactRow, fact_of
from revenue_share.application import Payouts, RevenueShareApplication
from revenue_share.catalog import SOURCE, build_catalog
from revenue_share.domain.facts import Period, Step
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket
from revenue_share.domain.policy_versions import Policy
from revenue_share.domain.statements import statement_hash
from revenue_share.ledger_feed import add_fact
from revenue_share.rebuild import rebuild
from revenue_share.replay import LearnedAt
from revenue_share.replay_writer import REPLAY, ReplayWriter, ReplayWriterFailed

from .conftest import ASSET, FINANCE, INSTITUTE, UNIVERSITY, envelope, publish, slice_events

pytestmark = pytest.mark.integration

PERIOD, START, END = "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)
LEARNED = datetime(2026, 12, 1, tzinfo=UTC)
CLOSED = datetime(2027, 1, 5, 9, tzinfo=UTC)


async def _issue_and_publish(
    settings: BusSettings, events: list[InboundEvent], policies: list[Policy], *, resend: bool = False
) -> str:
    """Publish the source events, close the period as the live service would (with `policies` in
    force), publish revenue-share's own events; `resend` publishes every batch twice, as a relay
    does after a crash between publishing and storing its position. Returns the issued hash."""
    topics = [bus.topic_of(s) for s in ("ip-registry", "commercialization", "incubation", SOURCE)]
    await bus.ensure_topics(settings, topics)
    sources = [(bus.topic_of(e.envelope.source), e.envelope.aggregate_id.encode(), e.envelope.SerializeToString())
               for e in events]  # fmt: skip
    landed = await publish(settings, sources * 2 if resend else sources)
    # The live service had learned every fact when it closed the period, and said so on its topic.
    ledger = Ledger()
    for seq, inbound in enumerate(events, start=1):
        kind, body = fact_of(inbound) or ("", {})
        add_fact(ledger, FactRow(seq, inbound.envelope.event_id, kind, body, LEARNED, inbound.envelope.position))
    live = RevenueShareApplication(persistence_env(None))
    for policy in policies:
        live.record_policy(REPLAY, policy)
        ledger.add_policy(policy)
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
    published = [live.mapper.to_domain_event(n) for n in live.notifications_after(0, 1_000)]
    assert [d for e in published if catalog.publishes(e) for d in twin_disagreements(catalog.payload(e))] == []
    await publish(settings, issued * 2 if resend else issued)
    return issued_hash


async def _served_hash(database_url: str) -> str:
    """The hash of the period's statements as a service started on the rebuilt database serves them."""
    engine = open_engine(database_url)
    rebuilt = RevenueShareApplication(persistence_env(database_url))
    try:  # its inbox, as the second process copied it
        return statement_hash(await Payouts(rebuilt, engine).statements(FINANCE, PERIOD))
    finally:
        rebuilt.close()
        await engine.dispose()


async def test_a_rebuilt_database_serves_the_issued_statements(bus_settings: BusSettings, fresh_database: str) -> None:
    events = slice_events()
    issued_hash = await _issue_and_publish(bus_settings, events, [])

    report = await rebuild(bus_settings, fresh_database, lambda *_: None)

    assert report.identical, report.checks
    assert (report.facts, report.checks[0].replayed_hash) == (len(events), issued_hash)
    assert await _served_hash(fresh_database) == issued_hash


def _policies() -> list[Policy]:
    """A center policy with a fee, cost recovery, researchers' brackets and a minimum payout, and a
    member's own split by bracket: what every deployment has."""
    recorded = datetime(2026, 9, 1, tzinfo=UTC)
    center = CenterPolicy(
        "center-2026", date(2026, 1, 1), recorded, fee_bps=500, recover_costs=True, cost_cap_bps=5000,
        researcher_brackets=(ResearcherBracket(0, 5000), ResearcherBracket(500_000, 6000)),
        minimum_payout={"CNY": 100}, set_by="admin",
    )  # fmt: skip
    split = (SplitBracket(0, {"member": 10_000}), SplitBracket(400_000, {"member": 8000, "lab": 2000}))
    return [center, MemberPolicy("institute-2026", INSTITUTE, date(2026, 1, 1), recorded, split, "admin")]


async def test_the_replay_of_a_history_with_policies_and_re_sent_batches_is_identical(
    bus_settings: BusSettings, fresh_database: str
) -> None:
    cost = registry.CostRecorded(cost_id="filing-1", kind="filing", amount=Money(amount=120_000, currency="CNY"),
                                 paid_by=UNIVERSITY, effective_date="2026-11-03")  # fmt: skip
    events = [*slice_events(), envelope("ip-registry", ASSET, 4, cost)]  # recovered first, under the cap
    issued_hash = await _issue_and_publish(bus_settings, events, _policies(), resend=True)

    report = await rebuild(bus_settings, fresh_database, lambda *_: None)

    assert report.identical, report.checks
    assert (report.facts, report.checks[0].replayed_hash) == (len(events), issued_hash)
    assert await _served_hash(fresh_database) == issued_hash
    steps = {line.step for statement in report.checks[0].statements for line in statement.lines}
    assert {Step.COST_RECOVERY, Step.OPERATING_FEE} <= steps
    rebuilt = RevenueShareApplication(persistence_env(fresh_database))
    try:
        assert rebuilt.policies() == _policies()
    finally:
        rebuilt.close()


async def test_a_writer_that_cannot_write_fails_the_replay(bus_settings: BusSettings) -> None:
    writer = ReplayWriter()
    writer.start()
    try:
        writer.begin(bus_settings, "postgresql://nobody@127.0.0.1:1/nothing", LearnedAt([], LEARNED))
        with pytest.raises(ReplayWriterFailed, match=r"writing the new database failed: .*Connect"):
            await writer.finish()
    finally:
        writer.stop()
