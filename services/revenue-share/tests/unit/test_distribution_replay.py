"""Late and backdated facts, replay identity, as-of, and properties of every split."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipshare_kernel.errors import Conflict
from revenue_share.domain import ledger as ledger_module
from revenue_share.domain.facts import (
    SALE_KIND,
    AssetCost,
    CashReceipt,
    EquityProceeds,
    InventorShares,
    OwnershipSnapshot,
    Period,
    Step,
)
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket
from revenue_share.domain.statements import Statement, statement_hash
from revenue_share.domain.waterfall import GroupSpec, MemberSplit, split_net

START = datetime(2023, 12, 1, tzinfo=UTC)
ENDS = [date(2024, 3, 31), date(2024, 6, 30), date(2024, 9, 30), date(2024, 12, 31)]
CLOSES = [datetime(2024, 4, 2, tzinfo=UTC), datetime(2024, 7, 2, tzinfo=UTC)]


def at(day: date, hours: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hours)


def periods() -> list[Period]:
    starts = [date(2024, 1, 1)] + [end + timedelta(days=1) for end in ENDS[:-1]]
    return [Period(f"2024-Q{i}", s, e) for i, (s, e) in enumerate(zip(starts, ENDS, strict=True), start=1)]


def build(facts: list[Any], closes: list[datetime]) -> Ledger:
    """A ledger fed with `facts` in the given order, then its periods closed."""
    ledger = Ledger()
    adders: dict[type, Callable[[Any], bool]] = {
        OwnershipSnapshot: ledger.add_ownership,
        InventorShares: ledger.add_inventors,
        AssetCost: ledger.add_cost,
        CashReceipt: ledger.add_receipt,
        EquityProceeds: ledger.add_equity_proceeds,
        CenterPolicy: ledger.add_policy,
        MemberPolicy: ledger.add_policy,
    }
    for fact in facts:
        adders[type(fact)](fact)
    for period in periods():
        ledger.define_period(period)
    for period, closed_at in zip(periods(), closes, strict=False):
        ledger.close_period(period.period_id, closed_at)
    return ledger


def receipt(receipt_id: str, amount: int, day: date, recorded: datetime | None = None) -> CashReceipt:
    return CashReceipt(receipt_id, "L1", ("A",), "royalty", amount, "USD", day, recorded or at(day))


BASE_FACTS: list[Any] = [
    OwnershipSnapshot("own-1", "A", date(2023, 1, 1), {"m1": 6000, "m2": 4000}, START),
    InventorShares("inv-1", "A", date(2023, 1, 1), {"r1": 10_000}, {"r1": "m1"}, START),
    receipt("rc1", 10_000, date(2024, 2, 1)),
]
# Learned after Q1 closed: ownership moved to 50/50 from 15 January, and a receipt of 20 March.
LATE_FACTS: list[Any] = [
    OwnershipSnapshot("own-2", "A", date(2024, 1, 15), {"m1": 5000, "m2": 5000}, at(date(2024, 4, 10))),
    receipt("rc-late", 4_000, date(2024, 3, 20), recorded=at(date(2024, 4, 20))),
    receipt("rc2", 1_000, date(2024, 5, 1)),
]


def test_late_and_backdated_facts_become_adjustments_in_the_next_period() -> None:
    ledger = build(BASE_FACTS, CLOSES[:1])
    q1 = ledger.statements("2024-Q1")
    q1_hash = statement_hash(q1)
    for fact in LATE_FACTS:
        ledger.add_receipt(fact) if isinstance(fact, CashReceipt) else ledger.add_ownership(fact)
    q2 = ledger.close_period("2024-Q2", CLOSES[1])
    assert statement_hash(ledger.statements("2024-Q1")) == q1_hash  # a closed statement never changes
    lines = {(str(s.payee), line.adjustment): line for s in q2 for line in s.lines}
    # Q1 as now known: 14,000 -> r1 7,000, m1 3,500, m2 3,500; Q1 paid r1 5,000, m1 3,000, m2 2,000.
    assert {k: line.amount for k, line in lines.items() if k[1]} == {
        ("researcher:r1", True): 2_000,
        ("member:m1", True): 500,
        ("member:m2", True): 1_500,
    }
    # Q2's own receipt of 1,000: r1 500, m1 250, m2 250.
    assert {k: line.amount for k, line in lines.items() if not k[1]} == {
        ("researcher:r1", False): 500,
        ("member:m1", False): 250,
        ("member:m2", False): 250,
    }
    why = lines[("member:m2", True)]
    assert "ownership own-2 (2024-01-15)" in why.reason
    assert "receipt rc-late (2024-03-20)" in why.reason
    assert why.source_event_ids == ("own-2", "rc-late")
    (usd,) = ledger.reconcile("2024-Q2")
    assert (usd.receipts, usd.payouts, usd.residual) == (5_000, 5_000, 0)


def test_an_adjustment_counts_many_late_receipts_by_date_range_and_explain_lists_each() -> None:
    ledger = build(BASE_FACTS, CLOSES[:1])
    ledger.add_ownership(LATE_FACTS[0])
    late_days = [date(2024, 2, 10), date(2024, 3, 2), date(2024, 3, 30), date(2024, 2, 20)]
    for n, day in enumerate(late_days):
        ledger.add_receipt(receipt(f"rc-late-{n}", 1_000, day, recorded=at(date(2024, 4, 20))))
    q2 = ledger.close_period("2024-Q2", CLOSES[1])
    (why,) = [line for s in q2 if str(s.payee) == "member:m2" for line in s.lines if line.adjustment]
    assert why.reason == (
        "recomputed after 2024-Q1 closed, with late or backdated facts: "
        "ownership own-2 (2024-01-15); 4 receipts dated 2024-02-10 to 2024-03-30"
    )
    assert why.source_event_ids == ("own-2", "rc-late-0", "rc-late-1", "rc-late-2", "rc-late-3")


def test_a_backdated_transfer_that_takes_back_is_carried_not_paid() -> None:
    ledger = build(BASE_FACTS, CLOSES[:1])
    ledger.add_ownership(LATE_FACTS[0])
    (m1,) = [s for s in ledger.close_period("2024-Q2", CLOSES[1]) if str(s.payee) == "member:m1"]
    assert [(line.step, line.amount, line.adjustment) for line in m1.lines] == [(Step.OWNER_SHARE, -500, True)]
    assert (m1.balances[0].paid, m1.balances[0].carried_out) == (0, -500)


def test_a_fact_recorded_before_a_close_cannot_arrive_after_it() -> None:
    ledger = build(BASE_FACTS, CLOSES[:1])
    with pytest.raises(Conflict, match="closed statements never change"):
        ledger.add_receipt(receipt("rc-back", 1, date(2024, 3, 1), recorded=at(date(2024, 3, 30))))


def test_the_same_fact_twice_is_a_no_op_and_another_under_its_id_a_conflict() -> None:
    ledger = Ledger()
    assert ledger.add_receipt(BASE_FACTS[2]) is True
    assert ledger.add_receipt(BASE_FACTS[2]) is False
    with pytest.raises(Conflict):
        ledger.add_receipt(receipt("rc1", 10_001, date(2024, 2, 1)))


def test_replay_in_any_order_gives_the_same_hash_and_as_of_gives_earlier_views() -> None:
    facts = BASE_FACTS + LATE_FACTS
    expected = statement_hash(build(facts, CLOSES).all_statements())
    for seed in range(5):
        shuffled = facts[:]
        random.Random(seed).shuffle(shuffled)
        assert statement_hash(build(shuffled, CLOSES).all_statements()) == expected
    ledger = build(facts, CLOSES)
    before_late = ledger.as_of(at(date(2024, 4, 5)))
    assert statement_hash(before_late.all_statements()) == statement_hash(ledger.statements("2024-Q1"))
    provisional = before_late.provisional("2024-Q2")
    assert provisional == () or all(not line.adjustment for s in provisional for line in s.lines)
    assert statement_hash(ledger.as_of(CLOSES[1]).all_statements()) == expected


def test_statements_known_after_a_close_are_the_issued_ones_as_a_rebuilt_past_has_them() -> None:
    ledger = build(BASE_FACTS + LATE_FACTS, CLOSES)
    for period, closed_at in zip(periods(), CLOSES, strict=False):
        for recorded_by in (closed_at, closed_at + timedelta(days=3), CLOSES[-1] + timedelta(days=90)):
            rebuilt = ledger.as_of(recorded_by).statements(period.period_id)
            assert ledger.statements_known_at(period.period_id, recorded_by) == rebuilt
    assert ledger.statements_known_at("2024-Q2", CLOSES[1] - timedelta(seconds=1)) != ledger.statements("2024-Q2")


def test_provisional_balances_show_the_open_period() -> None:
    ledger = build(BASE_FACTS + LATE_FACTS, CLOSES[:1])
    provisional = ledger.provisional("2024-Q2")
    assert all(s.closed_at is None for s in provisional)
    assert sum(b.entitled for s in provisional for b in s.balances) == 5_000
    with pytest.raises(Conflict):
        ledger.provisional("2024-Q3")


# ---- properties ---------------------------------------------------------------------------------

days = st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 12, 31))
# Closes keep the walk's state at month ends: facts dated on one are the edge of resuming there.
month_ends = [date(2024, m + 1, 1) - timedelta(days=1) for m in range(1, 12)] + [date(2024, 12, 31)]
fact_days = st.one_of(days, st.sampled_from(month_ends))
share_maps = st.dictionaries(st.sampled_from(["m1", "m2", "m3"]), st.integers(1, 100), min_size=1).map(
    lambda w: {k: v * 10_000 // sum(w.values()) for k, v in w.items()}
)


def _to_bps(weights: dict[str, int]) -> dict[str, int]:
    shares = dict(weights)
    first = sorted(shares)[0]
    shares[first] += 10_000 - sum(shares.values())
    return shares


@st.composite
def fact_sets(draw: st.DrawFn) -> list[Any]:
    facts: list[Any] = [
        CenterPolicy(
            "p1",
            date(2023, 1, 1),
            START,
            fee_bps=draw(st.integers(0, 3000)),
            recover_costs=True,
            cost_cap_bps=draw(st.none() | st.integers(0, 10_000)),
            # With one bracket and no costs, a late receipt is added to a checkpoint instead of walked.
            researcher_brackets=(ResearcherBracket(0, 3333),)
            + ((ResearcherBracket(draw(st.integers(1, 50_000)), 5000),) if draw(st.booleans()) else ()),
            minimum_payout={"USD": draw(st.integers(0, 2_000))},
        ),
        MemberPolicy(
            "m1-v1", "m1", date(2023, 1, 1), START, (SplitBracket(0, {"inventors": 3000, "lab": 2000, "member": 5000}),)
        ),
    ]
    for asset in ("A", "B"):
        for n, day in enumerate(draw(st.lists(days, min_size=1, max_size=3, unique=True))):
            recorded = at(day + timedelta(days=draw(st.integers(0, 120))))
            facts.append(OwnershipSnapshot(f"own-{asset}{n}", asset, day, _to_bps(draw(share_maps)), recorded))
        if draw(st.booleans()):  # sold out of the membership: the owners' share of its sale proceeds to the sellers
            day = draw(days)
            recorded = at(day + timedelta(days=draw(st.integers(0, 120))))
            facts.append(OwnershipSnapshot(f"out-{asset}", asset, day, {}, recorded, _to_bps(draw(share_maps))))
        facts.append(
            InventorShares(f"inv-{asset}", asset, date(2024, 1, 1), {"r1": 7000, "r2": 3000}, {"r1": "m1"}, START)
        )
        for n in range(draw(st.integers(0, 2))):
            cost_day = draw(days)
            facts.append(
                AssetCost(f"c-{asset}{n}", asset, draw(st.integers(1, 5_000)), "USD", cost_day, "m2", at(cost_day))
            )
    lateness = st.sampled_from([0, 0, 0, 30, 100, 200]).map(lambda d: timedelta(days=d))
    for n in range(draw(st.integers(1, 25))):
        day = draw(fact_days)
        assets = draw(st.sampled_from([("A",), ("B",), ("A", "B")]))
        amount = draw(st.integers(-2_000, 20_000))
        license_id, recorded = draw(st.sampled_from(["L1", "L2"])), at(day + draw(lateness))
        kind = draw(st.sampled_from(["royalty", "royalty", "royalty", SALE_KIND]))
        facts.append(CashReceipt(f"rc{n}", license_id, assets, kind, amount, "USD", day, recorded))
    for n in range(draw(st.integers(0, 3))):
        day = draw(fact_days)
        amount = draw(st.integers(1, 9_000))
        facts.append(EquityProceeds(f"eq{n}", "m1", "spin-1", amount, "USD", day, at(day + draw(lateness)), ("A",)))
    return facts


ALL_CLOSES = [at(end + timedelta(days=3)) for end in ENDS]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=fact_sets(), seed=st.integers(0, 1000))
def test_every_receipt_is_accounted_for_and_order_never_matters(facts: list[Any], seed: int) -> None:
    ledger = build(facts, ALL_CLOSES)
    for period in periods():
        for rec in ledger.reconcile(period.period_id):
            assert rec.residual == 0
            lines = [
                line for s in ledger.statements(period.period_id) for line in s.lines if line.currency == rec.currency
            ]
            assert sum(line.amount for line in lines) == rec.receipts
    known = [f for f in facts if isinstance(f, CashReceipt | EquityProceeds) and f.recorded_at <= ALL_CLOSES[-1]]
    assert sum(b.entitled for s in ledger.all_statements() for b in s.balances) == sum(r.amount for r in known)
    shuffled = facts[:]
    random.Random(seed).shuffle(shuffled)
    assert statement_hash(build(shuffled, ALL_CLOSES).all_statements()) == statement_hash(ledger.all_statements())


TIERS = (ResearcherBracket(0, 3333), ResearcherBracket(1_500, 5000))


def flat_facts(brackets: tuple[ResearcherBracket, ...] = TIERS[:1]) -> list[Any]:
    """One flat policy, no costs: a receipt learned late splits alone, added to a checkpoint
    (with tiers instead, it is walked: where it cuts its license's income matters)."""
    return [
        CenterPolicy("p1", date(2023, 1, 1), START, researcher_brackets=brackets, minimum_payout={"USD": 0}),
        OwnershipSnapshot("own-A", "A", date(2024, 1, 1), {"m1": 10_000}, START),
        InventorShares("inv-A", "A", date(2024, 1, 1), {"r1": 7000, "r2": 3000}, {"r1": "m1"}, START),
        receipt("rc1", 1_000, date(2024, 2, 1)),
        receipt("rc-late", 777, date(2024, 3, 31), recorded=at(date(2024, 4, 30))),  # on Q1's last day
    ]


def resumed_and_walked(facts: list[Any]) -> tuple[list[Statement], list[Statement]]:
    resumed = build(facts, ALL_CLOSES).all_statements()
    with mock.patch.object(ledger_module, "CHECKPOINT_MONTHS", 0):  # no checkpoint: every close walks all days
        return resumed, build(facts, ALL_CLOSES).all_statements()


@pytest.mark.parametrize("brackets", [TIERS[:1], TIERS], ids=["flat", "tiers"])
def test_a_late_receipt_dated_on_a_checkpoint_day_counts_as_a_walk_from_the_first_day_has_it(
    brackets: tuple[ResearcherBracket, ...],
) -> None:
    resumed, walked = resumed_and_walked(flat_facts(brackets))
    assert resumed == walked
    q2 = [s for s in walked if s.period_id == "2024-Q2"]
    assert sum(line.amount for s in q2 for line in s.lines if line.adjustment) == 777


def test_a_checkpoint_with_receipts_added_carries_their_income_into_tiers_set_later() -> None:
    later = CenterPolicy("p2", date(2024, 7, 1), at(date(2024, 8, 1)), researcher_brackets=TIERS,
                         minimum_payout={"USD": 0})  # fmt: skip
    resumed, walked = resumed_and_walked([*flat_facts(), later, receipt("rc3", 1_000, date(2024, 8, 2))])
    assert resumed == walked  # L1 had 1,777 when rc3 came: all of rc3 is above the 1,500 threshold


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=fact_sets())
def test_a_close_that_resumes_from_an_earlier_close_pays_what_a_walk_from_the_first_day_does(
    facts: list[Any],
) -> None:
    resumed = build(facts, ALL_CLOSES).all_statements()
    with mock.patch.object(ledger_module, "CHECKPOINT_MONTHS", 0):  # no checkpoint: every close walks all days
        walked = build(facts, ALL_CLOSES).all_statements()
    assert resumed == walked


@given(
    net=st.integers(0, 10**12),
    fee=st.integers(0, 10_000),
    researchers=st.integers(0, 10_000),
    owners=share_maps.map(_to_bps),
    split=st.sampled_from([{"member": 10_000}, {"inventors": 3334, "department": 2466, "member": 4200}]),
)
def test_a_split_is_exact_and_never_negative(
    net: int, fee: int, researchers: int, owners: dict[str, int], split: dict[str, int]
) -> None:
    inventors = {"r1": 5000, "r2": 3000, "r3": 2000}
    spec = GroupSpec(
        "p", fee, researchers, inventors, owners, {m: MemberSplit("v", split, {"r1": 10_000}) for m in owners}
    )
    parts = split_net(net, spec)
    assert sum(p[3] for p in parts) == net
    assert all(p[3] > 0 for p in parts)
    assert split_net(-net, spec) == [(p[0], p[1], p[2], -p[3]) for p in parts]
