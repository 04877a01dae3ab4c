"""Reconciliation of open periods: each receipt is counted in one period only."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ipshare_kernel.errors import Conflict
from revenue_share.domain.facts import CashReceipt, InventorShares, OwnershipSnapshot, Period
from revenue_share.domain.ledger import Ledger

KNOWN = datetime(2024, 1, 1, tzinfo=UTC)
PERIODS = [
    Period("2024-Q1", date(2024, 1, 1), date(2024, 3, 31)),
    Period("2024-Q2", date(2024, 4, 1), date(2024, 6, 30)),
    Period("2024-Q3", date(2024, 7, 1), date(2024, 9, 30)),
]


def receipt(receipt_id: str, amount: int, day: date) -> CashReceipt:
    recorded = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return CashReceipt(receipt_id, "L1", ("A",), "royalty", amount, "USD", day, recorded)


def test_a_later_open_period_does_not_count_the_first_open_periods_receipts_again() -> None:
    ledger = Ledger()
    ledger.add_ownership(OwnershipSnapshot("own-1", "A", date(2023, 1, 1), {"m1": 10_000}, KNOWN))
    ledger.add_inventors(InventorShares("inv-1", "A", date(2023, 1, 1), {"r1": 10_000}, {"r1": "m1"}, KNOWN))
    ledger.add_receipt(receipt("rc1", 10_000, date(2024, 2, 1)))
    ledger.add_receipt(receipt("rc2", 3_000, date(2024, 5, 1)))
    for period in PERIODS:
        ledger.define_period(period)
    ledger.close_period("2024-Q1", datetime(2024, 4, 2, tzinfo=UTC))

    [q2] = ledger.reconcile("2024-Q2")
    assert (q2.receipts, q2.residual) == (3_000, 0)
    with pytest.raises(Conflict, match="first open period"):
        ledger.reconcile("2024-Q3")  # it would show rc2 once more, as its own
