"""A licensee's reimbursement of patent costs repays the members that paid them; it is no royalty."""

from __future__ import annotations

from datetime import UTC, date, datetime

from revenue_share.domain.facts import (
    REIMBURSEMENT_KIND,
    AssetCost,
    CashReceipt,
    InventorShares,
    OwnershipSnapshot,
    Period,
    Step,
)
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import CenterPolicy
from revenue_share.domain.statements import Statement

Q1 = Period("2024-Q1", date(2024, 1, 1), date(2024, 3, 31))
LEARNED = datetime(2024, 1, 2, tzinfo=UTC)


def ledger_with_costs() -> Ledger:
    """U and E own A 50/50; U paid a 3,000 filing fee, E a 1,000 annuity (no cost recovery policy)."""
    ledger = Ledger()
    ledger.define_period(Q1)
    ledger.add_ownership(OwnershipSnapshot("own", "A", date(2023, 1, 1), {"U": 5_000, "E": 5_000}, LEARNED))
    ledger.add_inventors(InventorShares("inv", "A", date(2023, 1, 1), {"r1": 10_000}, {"r1": "U"}, LEARNED))
    ledger.add_cost(AssetCost("filing", "A", 3_000, "CNY", date(2023, 3, 1), "U", LEARNED))
    ledger.add_cost(AssetCost("annuity", "A", 1_000, "CNY", date(2023, 9, 1), "E", LEARNED))
    return ledger


def lines(statements: tuple[Statement, ...]) -> dict[tuple[str, Step], int]:
    return {(str(s.payee), line.step): line.amount for s in statements for line in s.lines}


def reimbursement(amount: int, day: date) -> CashReceipt:
    return CashReceipt(f"re-{amount}", "L", ("A",), REIMBURSEMENT_KIND, amount, "CNY", day, LEARNED)


def test_a_reimbursement_repays_the_members_that_paid_the_costs_oldest_first() -> None:
    ledger = ledger_with_costs()
    ledger.add_receipt(reimbursement(3_500, date(2024, 2, 1)))
    statements = ledger.close_period("2024-Q1", datetime(2024, 4, 2, tzinfo=UTC))
    assert lines(statements) == {("member:U", Step.COST_RECOVERY): 3_000, ("member:E", Step.COST_RECOVERY): 500}
    (cny,) = ledger.reconcile("2024-Q1")
    assert (cny.receipts, cny.cost_recoveries, cny.payouts, cny.residual) == (3_500, 3_500, 0, 0)


def test_what_a_reimbursement_pays_beyond_the_costs_is_income_and_royalties_no_longer_repay_them() -> None:
    ledger = ledger_with_costs()
    ledger.add_policy(CenterPolicy("c1", date(2023, 1, 1), LEARNED, recover_costs=True))
    ledger.add_receipt(reimbursement(5_000, date(2024, 2, 1)))
    ledger.add_receipt(CashReceipt("roy", "L", ("A",), "royalty", 2_000, "CNY", date(2024, 2, 1), LEARNED))
    statements = ledger.close_period("2024-Q1", datetime(2024, 4, 2, tzinfo=UTC))
    # 4,000 repays both costs first; the other 1,000 and the royalty's 2,000 (nothing left for it to
    # recover) are split: half to r1, half by shares.
    assert lines(statements) == {
        ("member:U", Step.COST_RECOVERY): 3_000,
        ("member:E", Step.COST_RECOVERY): 1_000,
        ("researcher:r1", Step.RESEARCHERS_REWARD): 1_500,
        ("member:U", Step.OWNER_SHARE): 750,
        ("member:E", Step.OWNER_SHARE): 750,
    }
