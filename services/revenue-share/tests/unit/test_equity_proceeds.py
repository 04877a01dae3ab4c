"""Spin-off proceeds: from incubation's event, through the inbox mapping, into members' statements."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ipshare.consumer import InboundEvent
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.incubation.v1 import events_pb2 as incubation
from revenue_share.adapters.inbox import FactRow, fact_of
from revenue_share.domain.facts import InventorShares, Member, MemberKind, Period, Step
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import MemberPolicy, SplitBracket
from revenue_share.ledger_feed import add_fact

LEARNED = datetime(2024, 2, 1, tzinfo=UTC)


def distribution() -> InboundEvent:
    payload = incubation.ProceedsDistributed(
        distribution_id="d1",
        kind="dividend",
        record_date="2024-01-31",
        amount={"amount": 10_001, "currency": "CNY"},
        lines=[
            incubation.ProceedsLine(holder_kind="member", holder_id="uni", amount=6_001),
            incubation.ProceedsLine(holder_kind="investor", holder_id="fund", amount=4_000),
        ],
        asset_ids=["A"],
        effective_date="2024-02-01",
    )
    return InboundEvent(EventEnvelope(aggregate_id="spin-1", source="incubation"), payload)


def test_only_members_lines_become_equity_facts() -> None:
    kind, body = fact_of(distribution()) or ("", {})
    assert kind == "equity"
    assert body["members"] == {"uni": 6_001}
    assert body["asset_ids"] == ["A"]


def test_a_members_equity_proceeds_pass_through_its_split_to_the_inventors_exactly() -> None:
    ledger = Ledger()
    ledger.define_period(Period("2024-Q1", date(2024, 1, 1), date(2024, 3, 31)))
    ledger.add_inventors(
        InventorShares("inv-A", "A", date(2023, 1, 1), {"r1": 5000, "r2": 5000}, {"r1": "uni", "r2": "uni"}, LEARNED)
    )
    split = SplitBracket(0, {"inventors": 3000, "member": 7000})
    uni = Member("uni", MemberKind.UNIVERSITY, True, LEARNED)
    ledger.policies.set_member_policy(MemberPolicy("uni-v1", "uni", date(2023, 1, 1), LEARNED, (split,)), uni, True)
    kind, body = fact_of(distribution()) or ("", {})
    add_fact(ledger, FactRow(1, "fact-1", kind, body, LEARNED, 1))
    statements = ledger.close_period("2024-Q1", datetime(2024, 4, 2, tzinfo=UTC))
    paid = {str(s.payee): sum(b.paid for b in s.balances) for s in statements}
    # 30% of 6,001 = 1,800.3 -> 1,800 to the inventors (900 each), 4,201 stays with the member.
    assert paid == {"researcher:r1": 900, "researcher:r2": 900, "member:uni": 4_201}
    (line,) = next(s for s in statements if str(s.payee) == "member:uni").lines
    assert line.step is Step.EQUITY
