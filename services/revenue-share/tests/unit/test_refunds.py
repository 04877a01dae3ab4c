"""Revenue taken back (commercialization's `RevenueRefunded`): a negative receipt unwinds the cost
recovery it paid for before it reduces what the payees get."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization
from ipshare_contracts.money.v1 import money_pb2
from revenue_share.adapters.inbox import fact_stated
from revenue_share.domain.facts import AssetCost, CashReceipt, InventorShares, OwnershipSnapshot, Period, Step
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import CenterPolicy
from revenue_share.domain.statements import Statement

Q1 = Period("2024-Q1", date(2024, 1, 1), date(2024, 3, 31))
Q2 = Period("2024-Q2", date(2024, 4, 1), date(2024, 6, 30))
LEARNED = datetime(2024, 1, 2, tzinfo=UTC)


def ledger_with_a_cost() -> Ledger:
    """U and E own A 50/50; U paid a 3,000 filing fee; the center recovers costs from income."""
    ledger = Ledger()
    ledger.define_period(Q1)
    ledger.define_period(Q2)
    ledger.add_policy(CenterPolicy("c1", date(2023, 1, 1), LEARNED, recover_costs=True))
    ledger.add_ownership(OwnershipSnapshot("own", "A", date(2023, 1, 1), {"U": 5_000, "E": 5_000}, LEARNED))
    ledger.add_inventors(InventorShares("inv", "A", date(2023, 1, 1), {"r1": 10_000}, {"r1": "U"}, LEARNED))
    ledger.add_cost(AssetCost("filing", "A", 3_000, "CNY", date(2023, 3, 1), "U", LEARNED))
    return ledger


def royalty(receipt_id: str, amount: int, day: date, learned: datetime = LEARNED) -> CashReceipt:
    return CashReceipt(receipt_id, "L", ("A",), "royalty", amount, "CNY", day, learned)


def by_payee(statements: tuple[Statement, ...]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for statement in statements:
        for line in statement.lines:
            totals[str(statement.payee)] = totals.get(str(statement.payee), 0) + line.amount
    return totals


def test_a_refund_takes_back_the_cost_recovery_first_and_leaves_no_payee_owing() -> None:
    ledger = ledger_with_a_cost()
    ledger.add_receipt(royalty("roy", 10_000, date(2024, 2, 1)))
    q1 = ledger.close_period("2024-Q1", datetime(2024, 4, 2, tzinfo=UTC))
    # 3,000 repays U's cost; the other 7,000: half to r1, half by shares.
    assert by_payee(q1) == {"member:U": 3_000 + 1_750, "researcher:r1": 3_500, "member:E": 1_750}
    learned = datetime(2024, 5, 2, tzinfo=UTC)
    ledger.add_receipt(royalty("refund", -10_000, date(2024, 5, 1), learned))  # all of it taken back
    q2 = ledger.close_period("2024-Q2", datetime(2024, 7, 2, tzinfo=UTC))
    assert by_payee(q2) == {"member:U": -3_000 - 1_750, "researcher:r1": -3_500, "member:E": -1_750}
    recovered = sum(line.amount for s in (*q1, *q2) for line in s.lines if line.step is Step.COST_RECOVERY)
    assert recovered == 0  # U's cost is unrecovered again: later income repays it
    for payee, total in by_payee((*q1, *q2)).items():
        assert total == 0, payee


def test_a_part_refund_is_taken_from_the_cost_recovery_before_the_payees() -> None:
    ledger = ledger_with_a_cost()
    ledger.add_receipt(royalty("roy", 10_000, date(2024, 2, 1)))
    ledger.add_receipt(royalty("refund", -2_000, date(2024, 3, 1)))
    ledger.add_receipt(royalty("later", 2_000, date(2024, 3, 15)))  # repays the cost again
    q1 = ledger.close_period("2024-Q1", datetime(2024, 4, 2, tzinfo=UTC))
    recovered = sum(line.amount for s in q1 for line in s.lines if line.step is Step.COST_RECOVERY)
    assert recovered == 3_000
    assert by_payee(q1) == {"member:U": 3_000 + 1_750, "researcher:r1": 3_500, "member:E": 1_750}
    (cny,) = ledger.reconcile("2024-Q1")
    assert (cny.receipts, cny.residual) == (10_000, 0)


def test_revenue_refunded_is_learned_as_a_negative_receipt() -> None:
    refund = commercialization.RevenueRefunded(
        license_id="L", asset_ids=["A", "B"], kind="royalty", amount=money_pb2.Money(amount=1_001, currency="CNY"),
        effective_date="2024-05-01", payment_id="p", invoice_id="i", credit_note_id="c",
        asset_splits=[commercialization.AssetAmount(asset_id="A", amount=money_pb2.Money(amount=701, currency="CNY")),
                      commercialization.AssetAmount(asset_id="B", amount=money_pb2.Money(amount=300, currency="CNY"))],
    )  # fmt: skip
    kind, body = fact_stated("account", refund) or ("", {})
    assert (kind, body["amount"], body["asset_split"], body["effective_date"]) == (
        "receipt", -1_001, {"A": -701, "B": -300}, "2024-05-01"
    )  # fmt: skip
