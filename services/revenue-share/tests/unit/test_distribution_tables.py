"""Distribution policies checked by hand: default, MIT-like, Stanford-like, statutory floor, carry-forward.

Amounts are USD cents. Each expected figure is worked out in the comment above it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ipshare_kernel.errors import DomainError, Forbidden
from revenue_share.domain.facts import (
    AssetCost,
    CashReceipt,
    InventorShares,
    Member,
    MemberKind,
    OwnershipSnapshot,
    Period,
    Step,
)
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import (
    CenterPolicy,
    MemberPolicy,
    PolicyBook,
    ResearcherBracket,
    SplitBracket,
    minimum_inventors_bps,
)
from revenue_share.domain.statements import Statement

START = datetime(2024, 1, 1, tzinfo=UTC)
Q1_CLOSE = datetime(2024, 4, 2, tzinfo=UTC)
Q2_CLOSE = datetime(2024, 7, 2, tzinfo=UTC)


def at(day: date, hours: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hours)


def ledger_with_quarters() -> Ledger:
    ledger = Ledger()
    ends = [date(2024, 3, 31), date(2024, 6, 30), date(2024, 9, 30), date(2024, 12, 31)]
    start = date(2024, 1, 1)
    for q, end in enumerate(ends, start=1):
        ledger.define_period(Period(f"2024-Q{q}", start, end))
        start = end + timedelta(days=1)
    return ledger


def owned(ledger: Ledger, owners: dict[str, int], inventors: dict[str, tuple[int, str]], asset: str = "A") -> None:
    """Ownership and inventors of `asset` in force since 2023."""
    ledger.add_ownership(OwnershipSnapshot(f"own-{asset}", asset, date(2023, 1, 1), owners, START))
    contributions = {r: bps for r, (bps, _) in inventors.items()}
    affiliations = {r: m for r, (_, m) in inventors.items()}
    ledger.add_inventors(InventorShares(f"inv-{asset}", asset, date(2023, 1, 1), contributions, affiliations, START))


def receipt(
    receipt_id: str, amount: int, day: date, license_id: str = "L1", recorded: datetime | None = None
) -> CashReceipt:
    return CashReceipt(receipt_id, license_id, ("A",), "royalty", amount, "USD", day, recorded or at(day))


def paid(statements: tuple[Statement, ...]) -> dict[str, int]:
    return {str(s.payee): sum(b.paid for b in s.balances) for s in statements}


def test_default_policy_half_to_inventors_rest_by_ownership() -> None:
    ledger = ledger_with_quarters()
    owned(ledger, {"m1": 6000, "m2": 4000}, {"r1": (5000, "m1"), "r2": (5000, "m2")})
    ledger.add_receipt(receipt("rc1", 10_000, date(2024, 2, 1)))
    statements = ledger.close_period("2024-Q1", Q1_CLOSE)
    # 60/40 between the owners; half of each owner's part to its own inventor (r1 is m1's, r2 m2's).
    assert paid(statements) == {"researcher:r1": 3_000, "researcher:r2": 2_000, "member:m1": 3_000, "member:m2": 2_000}
    line = next(s for s in statements if str(s.payee) == "member:m1").lines[0]
    assert (line.step, line.policy_version, line.adjustment) == (Step.OWNER_SHARE, "default+default", False)
    assert line.source_event_ids == ("inv-A", "own-A", "rc1")


def test_mit_like_fee_and_patent_costs_then_a_third_to_inventors() -> None:
    ledger = ledger_with_quarters()
    mit = CenterPolicy(
        "mit",
        date(2023, 1, 1),
        START,
        fee_bps=1500,
        recover_costs=True,
        researcher_brackets=(ResearcherBracket(0, 3333),),
    )
    ledger.policies.set_center_policy(mit, [Member("m1", MemberKind.ENTERPRISE, False, START)], by_admin=True)
    owned(ledger, {"m1": 10_000}, {"r1": (10_000, "m1")})
    ledger.add_cost(AssetCost("cost1", "A", 1_000_000, "USD", date(2023, 6, 1), "m1", START))
    ledger.add_receipt(receipt("rc1", 600_000, date(2024, 2, 1)))  # all of it recovers costs
    ledger.add_receipt(receipt("rc2", 1_000_000, date(2024, 3, 1)))  # 400,000 more recovers the rest
    statements = ledger.close_period("2024-Q1", Q1_CLOSE)
    # net 600,000; fee 15% = 90,000; rest 510,000; inventors 33.33% = 169,983; owner 340,017.
    lines = {(str(s.payee), line.step): line.amount for s in statements for line in s.lines}
    assert lines == {
        ("member:m1", Step.COST_RECOVERY): 1_000_000,
        ("center:center/operating_fee", Step.OPERATING_FEE): 90_000,
        ("researcher:r1", Step.RESEARCHERS_REWARD): 169_983,
        ("member:m1", Step.OWNER_SHARE): 340_017,
    }
    (usd,) = ledger.reconcile("2024-Q1")
    assert (usd.receipts, usd.operating_fees, usd.cost_recoveries, usd.payouts, usd.residual) == (
        1_600_000,
        90_000,
        1_000_000,
        510_000,
        0,
    )


def test_cost_recovery_cap_per_day() -> None:
    ledger = ledger_with_quarters()
    capped = CenterPolicy("cap", date(2023, 1, 1), START, recover_costs=True, cost_cap_bps=2_000)
    ledger.add_policy(capped)
    owned(ledger, {"m1": 10_000}, {"r1": (10_000, "m1")})
    ledger.add_cost(AssetCost("cost1", "A", 50_000, "USD", date(2023, 6, 1), "m2", START))
    ledger.add_receipt(receipt("rc1", 100_000, date(2024, 2, 1)))  # at most 20% = 20,000 recovers costs
    ledger.add_receipt(receipt("rc2", 100_000, date(2024, 2, 2)))  # another 20,000 (10,000 still owed)
    statements = ledger.close_period("2024-Q1", Q1_CLOSE)
    # net 160,000: half to the inventor, half to the owner.
    assert paid(statements) == {"member:m2": 40_000, "researcher:r1": 80_000, "member:m1": 80_000}


def stanford_like(ledger: Ledger) -> None:
    ledger.add_policy(CenterPolicy("center-0", date(2023, 1, 1), START, researcher_brackets=(ResearcherBracket(0, 0),)))
    below = {"inventors": 3334, "department": 2466, "school": 2100, "member": 2100}
    above = {"inventors": 2500, "department": 2500, "school": 2500, "member": 2500}
    threshold = 300_000_000  # USD 3M cumulative per license
    policy = MemberPolicy(
        "m1-v1", "m1", date(2023, 1, 1), START, (SplitBracket(0, below), SplitBracket(threshold, above))
    )
    ledger.policies.set_member_policy(policy, Member("m1", MemberKind.UNIVERSITY, False, START), by_admin=True)


def test_stanford_like_shares_change_above_3m_cumulative_per_license() -> None:
    ledger = ledger_with_quarters()
    stanford_like(ledger)
    owned(ledger, {"m1": 10_000}, {"r1": (6000, "m1"), "r2": (4000, "m1")})
    ledger.add_receipt(receipt("rc1", 290_000_000, date(2024, 1, 10)))
    ledger.add_receipt(receipt("rc2", 20_000_000, date(2024, 2, 10)))  # crosses 3M: 10M below, 10M above
    ledger.add_receipt(receipt("rc3", 1_000_000, date(2024, 2, 11), license_id="L2"))  # another license: below
    statements = ledger.close_period("2024-Q1", Q1_CLOSE)
    # Below 3M: 301,000,000 -> inventors 33.34% = 100,353,400 (r1 60%, r2 40%), department 74,226,600,
    # school 63,210,000, office (the member) 63,210,000. Above: 10,000,000 in quarters of 2,500,000.
    assert paid(statements) == {
        "researcher:r1": 60_212_040 + 1_500_000,
        "researcher:r2": 40_141_360 + 1_000_000,
        "member:m1/department": 74_226_600 + 2_500_000,
        "member:m1/school": 63_210_000 + 2_500_000,
        "member:m1": 63_210_000 + 2_500_000,
    }
    assert sum(paid(statements).values()) == 311_000_000


def test_statutory_floor_rejects_a_policy_below_half_for_state_universities() -> None:
    book = PolicyBook()
    company = Member("m1", MemberKind.ENTERPRISE, False, START)
    state_university = Member("u1", MemberKind.UNIVERSITY, True, START)
    mit = CenterPolicy("mit", date(2023, 1, 1), START, fee_bps=1500, researcher_brackets=(ResearcherBracket(0, 3333),))
    # Without its own rule, the state university would give its researchers only 33.33%.
    with pytest.raises(DomainError, match=r"at least 50% .*Art\. 45"):
        book.set_center_policy(mit, [company, state_university], by_admin=True)
    book.set_center_policy(mit, [company], by_admin=True)
    # Without a fee: 33.33% + 66.67% x 25.00% = 49.9975%: below; 25.01% reaches 50%.
    assert minimum_inventors_bps(3333) == 2501
    # The 15% fee counts against the floor: 85% x (33.33% + 66.67% x 38.23%) < 50%; 38.24% reaches it.
    assert minimum_inventors_bps(3333, 1500) == 3824
    low = MemberPolicy("u1-v1", "u1", date(2023, 1, 1), START, (SplitBracket(0, {"inventors": 3823, "member": 6177}),))
    with pytest.raises(DomainError, match="state-established") as rejected:
        book.set_member_policy(low, state_university, by_admin=True)
    assert rejected.value.details["minimum_inventors_bps"] == 3824
    assert minimum_inventors_bps(10_000, 5_001) is None  # no split of the rest can make up for such a fee
    enough = MemberPolicy(
        "u1-v2", "u1", date(2023, 1, 1), START, (SplitBracket(0, {"inventors": 3824, "member": 6176}),)
    )
    book.set_member_policy(enough, state_university, by_admin=True)
    # Others may set their own rule.
    company_rule = MemberPolicy("m1-v1", "m1", date(2023, 1, 1), START, (SplitBracket(0, {"member": 10_000}),))
    book.set_member_policy(company_rule, company, by_admin=True)
    assert [p.version for p in book.versions()] == ["m1-v1", "mit", "u1-v2"]


def test_only_an_admin_changes_a_members_policy() -> None:
    policy = MemberPolicy("m1-v1", "m1", date(2023, 1, 1), START, (SplitBracket(0, {"member": 10_000}),))
    with pytest.raises(Forbidden):
        PolicyBook().set_member_policy(policy, None, by_admin=False)


def test_every_policy_version_is_kept_and_the_one_in_force_applies() -> None:
    book = PolicyBook()
    v1 = CenterPolicy("v1", date(2023, 1, 1), START, fee_bps=1000)
    v2 = CenterPolicy("v2", date(2024, 3, 1), START, fee_bps=2000)
    book.set_center_policy(v2, [], by_admin=True)
    book.set_center_policy(v1, [], by_admin=True)
    assert book.center_at(date(2022, 12, 31)).version == "default"
    assert book.center_at(date(2024, 2, 29)).version == "v1"
    assert book.center_at(date(2024, 3, 1)).version == "v2"


def test_minimum_payout_carries_forward_to_the_next_period() -> None:
    ledger = ledger_with_quarters()
    ledger.add_policy(CenterPolicy("min", date(2023, 1, 1), START, minimum_payout={"USD": 10_000}))
    owned(ledger, {"m1": 10_000}, {"r1": (10_000, "m1")})
    ledger.add_receipt(receipt("rc1", 6_000, date(2024, 2, 1)))
    q1 = ledger.close_period("2024-Q1", Q1_CLOSE)
    assert paid(q1) == {"member:m1": 0, "researcher:r1": 0}
    assert [(b.entitled, b.carried_out) for s in q1 for b in s.balances] == [(3_000, 3_000), (3_000, 3_000)]
    (usd,) = ledger.reconcile("2024-Q1")
    assert (usd.receipts, usd.payouts, usd.carried_forward, usd.residual) == (6_000, 0, 6_000, 0)
    ledger.add_receipt(receipt("rc2", 16_000, date(2024, 5, 1)))
    q2 = ledger.close_period("2024-Q2", Q2_CLOSE)
    assert paid(q2) == {"member:m1": 11_000, "researcher:r1": 11_000}
    (usd,) = ledger.reconcile("2024-Q2")
    assert (usd.receipts, usd.carried_in, usd.payouts, usd.carried_forward, usd.residual) == (
        16_000,
        6_000,
        22_000,
        0,
        0,
    )


def test_missing_owners_are_held_in_suspense_until_known() -> None:
    ledger = ledger_with_quarters()
    ledger.add_inventors(InventorShares("inv-A", "A", date(2023, 1, 1), {"r1": 10_000}, {"r1": "m1"}, START))
    ledger.add_receipt(receipt("rc1", 1_000, date(2024, 2, 1)))
    q1 = ledger.close_period("2024-Q1", Q1_CLOSE)
    assert paid(q1) == {"center:center/suspense": 0, "researcher:r1": 500}
    (usd,) = ledger.reconcile("2024-Q1")
    assert (usd.carried_forward, usd.residual) == (500, 0)
    ledger.add_ownership(OwnershipSnapshot("own-A", "A", date(2023, 1, 1), {"m1": 10_000}, at(date(2024, 4, 5))))
    q2 = ledger.close_period("2024-Q2", Q2_CLOSE)
    assert paid(q2) == {"center:center/suspense": 0, "member:m1": 500}
    suspense = next(s for s in q2 if str(s.payee) == "center:center/suspense")
    assert (suspense.lines[0].amount, suspense.balances[0].carried_out) == (-500, 0)
