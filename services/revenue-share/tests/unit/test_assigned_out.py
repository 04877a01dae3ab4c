"""An asset assigned out of the membership (ip-registry `OwnershipAssignedOut`), checked by hand.

Asset A is owned 60/40 by m1 and m2 since 2023; its inventors r1 (of m1) and r2 (of m2)
contributed half each. The owners sell it to a buyer outside the membership, effective
2024-03-01. Default policy throughout: half of each receipt to the inventors by
contribution, the other half to the owners on the received date. Amounts are USD cents.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest

from ipshare_kernel.errors import DomainError
from revenue_share.adapters.inbox import FactRow
from revenue_share.domain import ledger as ledger_module
from revenue_share.domain.facts import SALE_KIND, CashReceipt, InventorShares, OwnershipSnapshot, Period, Step
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.statements import Statement
from revenue_share.ledger_feed import add_fact

START = datetime(2024, 1, 1, tzinfo=UTC)
SOLD_ON = date(2024, 3, 1)
SELLERS = {"m1": 6000, "m2": 4000}
UNALLOCATED = "center:center/unallocated"


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def ledger_of_asset_a() -> Ledger:
    ledger = Ledger()
    ledger.define_period(Period("2024-Q1", date(2024, 1, 1), date(2024, 3, 31)))
    ledger.define_period(Period("2024-Q2", date(2024, 4, 1), date(2024, 6, 30)))
    ledger.define_period(Period("2024-Q3", date(2024, 7, 1), date(2024, 9, 30)))
    ledger.add_ownership(OwnershipSnapshot("own-A", "A", date(2023, 1, 1), SELLERS, START))
    contributions, affiliations = {"r1": 5000, "r2": 5000}, {"r1": "m1", "r2": "m2"}
    ledger.add_inventors(InventorShares("inv-A", "A", date(2023, 1, 1), contributions, affiliations, START))
    return ledger


def assigned_out(recorded_at: datetime) -> OwnershipSnapshot:
    return OwnershipSnapshot("out-A", "A", SOLD_ON, {}, recorded_at, SELLERS)


def receipt(receipt_id: str, amount: int, day: date, kind: str = "royalty", license_id: str = "L1") -> CashReceipt:
    return CashReceipt(receipt_id, license_id, ("A",), kind, amount, "USD", day, at(day))


def entitled(statements: tuple[Statement, ...]) -> dict[str, int]:
    return {str(s.payee): sum(b.entitled for b in s.balances) for s in statements}


def paid(statements: tuple[Statement, ...]) -> dict[str, int]:
    return {str(s.payee): sum(b.paid for b in s.balances) for s in statements}


def test_a_receipt_dated_from_the_assignment_on_has_no_member_to_pay() -> None:
    ledger = ledger_of_asset_a()
    ledger.add_ownership(assigned_out(at(SOLD_ON)))
    ledger.add_receipt(receipt("before", 10_000, date(2024, 2, 29)))
    ledger.add_receipt(receipt("on", 1_000, SOLD_ON))  # the new ownership holds from its effective date
    ledger.add_receipt(receipt("late", 2_000, date(2024, 3, 15)))  # a late royalty for sales before the sale

    q1 = ledger.close_period("2024-Q1", at(date(2024, 4, 2)))

    # before: 6,000 of m1's (3,000 to its r1) and 4,000 of m2's (2,000 to its r2).
    # on + late: 3,000 in all, no owner: 1,500 to r1/r2 by contribution (750 each), 1,500 unallocated.
    assert entitled(q1) == {"member:m1": 3_000, "member:m2": 2_000, "researcher:r1": 3_750,
                            "researcher:r2": 2_750, UNALLOCATED: 1_500}  # fmt: skip
    assert paid(q1)[UNALLOCATED] == 0
    held = next(s for s in q1 if str(s.payee) == UNALLOCATED)
    assert [(line.step, line.amount) for line in held.lines] == [(Step.OWNER_SHARE, 1_500)]
    assert held.lines[0].source_event_ids == ("inv-A", "late", "on", "out-A")  # the assignment is named
    (usd,) = ledger.reconcile("2024-Q1")
    # receipts 13,000 = payouts 11,500 + fees 0 + recoveries 0 + carried forward 1,500 (all unallocated).
    assert (usd.receipts, usd.payouts, usd.operating_fees, usd.cost_recoveries) == (13_000, 11_500, 0, 0)
    assert (usd.carried_forward, usd.unallocated, usd.residual) == (1_500, 1_500, 0)


def test_unallocated_money_stays_carried_forward_whatever_the_minimum_payout() -> None:
    ledger = ledger_of_asset_a()
    ledger.add_ownership(assigned_out(at(SOLD_ON)))
    ledger.add_receipt(receipt("late", 2_000, date(2024, 3, 15)))
    ledger.close_period("2024-Q1", at(date(2024, 4, 2)))
    ledger.add_receipt(receipt("later", 400, date(2024, 5, 1)))

    q2 = ledger.close_period("2024-Q2", at(date(2024, 7, 2)))

    held = next(s for s in q2 if str(s.payee) == UNALLOCATED)
    # carried in 1,000 (half of 2,000) + 200 (half of 400) now: nothing paid, 1,200 carried out.
    assert [(b.carried_in, b.entitled, b.paid, b.carried_out) for b in held.balances] == [(1_000, 200, 0, 1_200)]
    (usd,) = ledger.reconcile("2024-Q2")
    # receipts 400 + carried in 1,000 = payouts 200 (r1 100, r2 100) + carried forward 1,200.
    assert (usd.receipts, usd.carried_in, usd.payouts, usd.carried_forward) == (400, 1_000, 200, 1_200)
    assert (usd.unallocated, usd.residual) == (1_200, 0)


def test_the_sale_proceeds_go_to_the_sellers_though_received_after_the_sale() -> None:
    ledger = ledger_of_asset_a()
    ledger.add_ownership(assigned_out(at(SOLD_ON)))
    ledger.add_receipt(receipt("price", 20_000, date(2024, 3, 20), kind=SALE_KIND, license_id="S1"))
    ledger.add_receipt(receipt("late", 2_000, date(2024, 3, 20)))

    q1 = ledger.close_period("2024-Q1", at(date(2024, 4, 2)))

    # price: to the sellers 60/40, each half to its own inventor (m1 and r1 6,000, m2 and r2 4,000).
    # late royalty, no owner: 1,000 to r1/r2 by contribution (500 each), 1,000 unallocated.
    assert entitled(q1) == {"member:m1": 6_000, "member:m2": 4_000, "researcher:r1": 6_500,
                            "researcher:r2": 4_500, UNALLOCATED: 1_000}  # fmt: skip
    (usd,) = ledger.reconcile("2024-Q1")
    assert (usd.receipts, usd.payouts, usd.carried_forward, usd.unallocated, usd.residual) == (
        22_000, 21_000, 1_000, 1_000, 0)  # fmt: skip


def test_an_assignment_learned_after_the_close_takes_back_what_the_members_were_paid() -> None:
    ledger = ledger_of_asset_a()
    ledger.add_receipt(receipt("late", 1_000, date(2024, 3, 15)))
    q1 = ledger.close_period("2024-Q1", at(date(2024, 4, 2)))
    assert paid(q1) == {"member:m1": 300, "member:m2": 200, "researcher:r1": 300, "researcher:r2": 200}
    ledger.add_ownership(assigned_out(at(date(2024, 4, 5))))  # dated 2024-03-01, learned in Q2

    q2 = ledger.close_period("2024-Q2", at(date(2024, 7, 2)))

    # The owners' 500 moves from m1/m2 (-300/-200) to unallocated (+500); with no owner, the researchers'
    # reward is no longer paid through m1 and m2 but to the inventors by contribution (300/200 -> 250/250).
    lines = {str(s.payee): [(line.amount, line.adjustment) for line in s.lines] for s in q2}
    assert lines == {"member:m1": [(-300, True)], "member:m2": [(-200, True)], UNALLOCATED: [(500, True)],
                     "researcher:r1": [(-50, True)], "researcher:r2": [(50, True)]}  # fmt: skip
    assert "ownership out-A (2024-03-01)" in next(s for s in q2 if str(s.payee) == UNALLOCATED).lines[0].reason
    # Negative balances carry forward (recovered from the payees' later income).
    assert paid(q2) == {"member:m1": 0, "member:m2": 0, UNALLOCATED: 0, "researcher:r1": 0, "researcher:r2": 50}
    (usd,) = ledger.reconcile("2024-Q2")
    assert (usd.receipts, usd.payouts, usd.carried_forward, usd.unallocated, usd.residual) == (0, 50, -50, 500, 0)


def test_an_assignment_out_names_its_sellers_and_leaves_no_owners() -> None:
    snapshot = assigned_out(START)
    assert (snapshot.assigned_out, dict(snapshot.owners)) == (True, {})
    assert dict(snapshot.payees(sale=True)) == SELLERS
    assert dict(snapshot.payees(sale=False)) == {}
    with pytest.raises(DomainError, match="leaves no owners"):
        OwnershipSnapshot("x", "A", SOLD_ON, SELLERS, START, SELLERS)
    with pytest.raises(DomainError, match="at least one party"):
        OwnershipSnapshot("x", "A", SOLD_ON, {}, START)


def test_the_inbox_row_of_an_assignment_out_becomes_an_ownerless_snapshot() -> None:
    ledger = ledger_of_asset_a()
    body = {"asset_id": "A", "effective_date": "2024-03-01", "sellers": SELLERS, "assignee": "Buyer Ltd",
            "request_id": "req-1"}  # fmt: skip
    add_fact(ledger, FactRow(1, "out-A", "assigned_out", body, START + timedelta(days=1), 1))
    ledger.add_receipt(receipt("late", 1_000, date(2024, 3, 15)))

    statements = ledger.provisional("2024-Q1")

    assert entitled(statements) == {"researcher:r1": 250, "researcher:r2": 250, UNALLOCATED: 500}


def test_a_license_that_becomes_a_sale_account_after_a_close_is_regrouped_from_its_first_receipt() -> None:
    """A close that resumes from a checkpoint pays what a walk from the first day does, even when
    a license's first sale proceeds, learned since, make its earlier receipts a sale's."""

    def closed() -> tuple[Statement, ...]:
        ledger = ledger_of_asset_a()
        ledger.add_ownership(assigned_out(at(SOLD_ON)))
        ledger.add_receipt(receipt("royalty-after", 1_000, date(2024, 4, 10), license_id="L2"))
        ledger.close_period("2024-Q1", at(date(2024, 4, 2)))
        ledger.close_period("2024-Q2", at(date(2024, 7, 2)))
        ledger.add_receipt(receipt("sale", 9_000, date(2024, 8, 1), kind=SALE_KIND, license_id="L2"))
        return ledger.close_period("2024-Q3", at(date(2024, 10, 2)))

    resumed = closed()
    with mock.patch.object(ledger_module, "CHECKPOINT_MONTHS", 0):  # every close walks from the first day
        walked = closed()
    assert resumed == walked
    adjusted = {str(s.payee): line.amount for s in walked for line in s.lines if line.adjustment}
    # The sellers get the royalty's half, and the researchers' reward goes through them again.
    assert adjusted == {UNALLOCATED: -500, "member:m1": 300, "member:m2": 200,
                        "researcher:r1": 50, "researcher:r2": -50}  # fmt: skip
