"""Payment matching, credit notes and ageing on one account (pure domain, no store)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commercialization.domain.account import LicenseAccount, RevenueKind, ageing_bucket
from ipshare_kernel.errors import Conflict, DomainError, NotFound
from ipshare_kernel.money import Money

A1, A2 = uuid.UUID(int=1), uuid.UUID(int=2)
DAY = date(2025, 1, 10)


def account() -> LicenseAccount:
    return LicenseAccount(uuid.UUID(int=99), [A1, A2])


def invoice(
    acct: LicenseAccount, amount: int, ref: str, split: dict[str, int] | None = None, day: date = DAY
) -> uuid.UUID:
    return acct.issue_invoice(RevenueKind.ROYALTY, Money(amount, "CNY"), day, 30, ref, split)


def revenue(acct: LicenseAccount) -> list[Any]:
    return [e for e in acct.collect_events() if isinstance(e, LicenseAccount.RevenueReceived)]


def test_partial_payment_leaves_the_rest_open() -> None:
    acct = account()
    inv = invoice(acct, 10_000, "r1")
    acct.receive_payment(Money(4_000, "CNY"), date(2025, 2, 1), "BANK-1")
    assert acct.invoices[inv].open_amount == 6_000
    [event] = revenue(acct)
    assert (event.amount, event.kind, event.effective_date) == (
        {"amount": 4_000, "currency": "CNY"},
        "royalty",
        date(2025, 2, 1),
    )


def test_oldest_open_invoice_is_paid_first_and_overpayment_stays_unapplied() -> None:
    acct = account()
    first, second = invoice(acct, 1_000, "r1"), invoice(acct, 2_000, "r2", day=date(2025, 1, 20))
    acct.receive_payment(Money(3_500, "CNY"), date(2025, 2, 1), "BANK-1")
    assert (acct.invoices[first].open_amount, acct.invoices[second].open_amount) == (0, 0)
    assert acct.unapplied_cash() == {"CNY": 500}
    assert [e.amount["amount"] for e in revenue(acct)] == [1_000, 2_000]


def test_unapplied_cash_pays_the_next_invoice_as_of_the_day_it_was_received() -> None:
    acct = account()
    acct.receive_payment(Money(500, "CNY"), date(2025, 1, 5), "PREPAY")
    inv = invoice(acct, 800, "r1", day=date(2025, 3, 1))
    assert acct.invoices[inv].open_amount == 300
    [event] = revenue(acct)
    assert (event.amount["amount"], event.effective_date, event.payer_reference) == (500, date(2025, 1, 5), "PREPAY")


def test_a_payment_goes_to_the_invoices_it_names_first() -> None:
    acct = account()
    older, newer = invoice(acct, 1_000, "r1"), invoice(acct, 1_000, "r2", day=date(2025, 1, 20))
    acct.receive_payment(Money(1_000, "CNY"), date(2025, 2, 1), "BANK-1", invoice_ids=[newer])
    assert (acct.invoices[older].open_amount, acct.invoices[newer].open_amount) == (1_000, 0)


def test_other_currencies_are_not_mixed() -> None:
    acct = account()
    inv = invoice(acct, 1_000, "r1")
    acct.receive_payment(Money(1_000, "USD"), date(2025, 2, 1), "BANK-1")
    assert acct.invoices[inv].open_amount == 1_000
    assert acct.unapplied_cash() == {"USD": 1_000}


def test_revenue_splits_across_assets_exactly_where_the_terms_say() -> None:
    acct = account()
    invoice(acct, 1_001, "r1", split={str(A1): 5_000, str(A2): 5_000})
    acct.receive_payment(Money(1_001, "CNY"), date(2025, 2, 1), "BANK-1")
    [event] = revenue(acct)
    assert event.asset_splits == [
        {"asset_id": str(A1), "amount": {"amount": 501, "currency": "CNY"}},
        {"asset_id": str(A2), "amount": {"amount": 500, "currency": "CNY"}},
    ]


def test_a_credit_note_reduces_an_unpaid_invoice_and_emits_no_revenue() -> None:
    acct = account()
    inv = invoice(acct, 1_000, "r1")
    acct.issue_credit_note(RevenueKind.ROYALTY, Money(300, "CNY"), DAY, "c1", inv)
    assert acct.invoices[inv].open_amount == 700
    assert revenue(acct) == []


def test_credit_on_a_paid_invoice_takes_revenue_back_and_its_cash_pays_the_next_invoice() -> None:
    acct = account()
    inv = invoice(acct, 1_000, "r1")
    acct.receive_payment(Money(1_000, "CNY"), date(2025, 2, 1), "BANK-1")
    acct.issue_credit_note(RevenueKind.ROYALTY, Money(300, "CNY"), date(2025, 3, 1), "c1", inv)
    assert (acct.unused_credit(), acct.unapplied_cash()) == ({}, {"CNY": 300})
    nxt = invoice(acct, 500, "r2", day=date(2025, 4, 1))
    assert acct.invoices[nxt].open_amount == 200


def test_invoices_and_payments_are_checked() -> None:
    acct = account()
    invoice(acct, 1_000, "r1")
    with pytest.raises(Conflict):
        invoice(acct, 1_000, "r1")  # invoiced twice
    with pytest.raises(DomainError):
        acct.receive_payment(Money(0, "CNY"), DAY, "X")
    with pytest.raises(NotFound):
        acct.receive_payment(Money(1, "CNY"), DAY, "X", invoice_ids=[uuid.uuid4()])


@pytest.mark.parametrize(
    ("as_of", "bucket"),
    [
        (date(2025, 2, 9), "current"),  # due today
        (date(2025, 3, 10), "current"),  # 29 days late
        (date(2025, 3, 11), "30"),
        (date(2025, 4, 10), "60"),
        (date(2025, 5, 10), "90+"),
    ],
)
def test_ageing(as_of: date, bucket: str) -> None:
    assert ageing_bucket(date(2025, 2, 9), as_of) == bucket


def test_receivables_show_open_balances_with_their_bucket() -> None:
    acct = account()
    inv = invoice(acct, 1_000, "r1")  # due 2025-02-09
    acct.receive_payment(Money(400, "CNY"), date(2025, 2, 1), "BANK-1")
    [line] = acct.receivables(date(2025, 5, 20))
    assert (line.invoice_id, line.open_amount, line.bucket) == (inv, Money(600, "CNY"), "90+")


# ---- as of a past day: only what was dated by then -----------------------------------------------


def _open_on(acct: LicenseAccount, as_of: date) -> dict[str, int]:
    return {r.reference: r.open_amount.amount for r in acct.receivables(as_of)}


def test_an_invoice_paid_after_the_day_is_open_in_full_as_of_that_day() -> None:
    acct = account()
    invoice(acct, 10_000, "r1", day=date(2025, 10, 1))
    acct.receive_payment(Money(10_000, "CNY"), date(2026, 1, 15), "BANK-1")
    assert _open_on(acct, date(2025, 12, 31)) == {"r1": 10_000}
    assert [r.bucket for r in acct.receivables(date(2025, 12, 31))] == ["60"]
    assert _open_on(acct, date(2026, 1, 15)) == {}


def test_a_partial_payment_counts_only_from_the_day_it_was_received() -> None:
    acct = account()
    invoice(acct, 10_000, "r1", day=date(2025, 10, 1))
    acct.receive_payment(Money(3_000, "CNY"), date(2025, 11, 1), "BANK-1")
    acct.receive_payment(Money(4_000, "CNY"), date(2026, 1, 15), "BANK-2")
    assert _open_on(acct, date(2025, 10, 31)) == {"r1": 10_000}
    assert _open_on(acct, date(2025, 12, 31)) == {"r1": 7_000}
    assert _open_on(acct, date(2026, 2, 1)) == {"r1": 3_000}


def test_a_credit_note_counts_from_its_date_and_cash_received_early_is_unapplied_until_invoiced() -> None:
    acct = account()
    inv = invoice(acct, 10_000, "r1", day=date(2025, 10, 1))
    acct.issue_credit_note(RevenueKind.ROYALTY, Money(2_500, "CNY"), date(2026, 1, 10), "fix", inv)
    acct.receive_payment(Money(900, "CNY"), date(2025, 11, 20), "BANK-1")
    acct.receive_payment(Money(1_000, "CNY"), date(2025, 12, 1), "ADVANCE")
    invoice(acct, 1_500, "r2", day=date(2026, 3, 1))
    assert _open_on(acct, date(2025, 12, 31)) == {"r1": 10_000 - 900 - 1_000}
    assert acct.unapplied_cash(date(2025, 12, 31)) == {}
    assert _open_on(acct, date(2026, 1, 31)) == {"r1": 10_000 - 900 - 1_000 - 2_500}
    assert acct.unapplied_cash(date(2026, 3, 1)) == {}


def test_cash_received_before_its_invoice_is_unapplied_as_of_a_day_in_between() -> None:
    acct = account()
    acct.receive_payment(Money(500, "CNY"), date(2025, 1, 5), "PREPAY")
    invoice(acct, 800, "r1", day=date(2025, 3, 1))
    assert acct.unapplied_cash(date(2025, 2, 1)) == {"CNY": 500}
    assert _open_on(acct, date(2025, 2, 1)) == {}
    assert acct.unapplied_cash(date(2025, 3, 1)) == {}
    assert _open_on(acct, date(2025, 3, 1)) == {"r1": 300}
    assert acct.unapplied_cash(date(2024, 12, 31)) == {}


# ---- a credit note on a paid invoice takes revenue back ----------------------------------------


def refunded(acct: LicenseAccount) -> list[Any]:
    return [e for e in acct.collect_events() if isinstance(e, LicenseAccount.RevenueRefunded)]


def test_a_credit_note_on_a_paid_invoice_takes_the_revenue_back_and_frees_the_cash() -> None:
    acct = account()
    inv = invoice(acct, 10_000, "r1", split={str(A1): 7_000, str(A2): 3_000})
    first = acct.receive_payment(Money(6_000, "CNY"), date(2025, 2, 1), "BANK-1")
    second = acct.receive_payment(Money(4_000, "CNY"), date(2025, 3, 1), "BANK-2")
    acct.collect_events()
    acct.issue_credit_note(RevenueKind.ROYALTY, Money(5_001, "CNY"), date(2025, 4, 1), "fix", inv)
    events = refunded(acct)
    # Newest payment first: all of BANK-2's 4,000, then 1,001 of BANK-1's.
    assert [(e.payment_id, e.amount["amount"], e.effective_date) for e in events] == [
        (second, 4_000, date(2025, 4, 1)),
        (first, 1_001, date(2025, 4, 1)),
    ]
    assert [s["amount"]["amount"] for s in events[1].asset_splits] == [701, 300]  # the invoice's split, exact
    assert (acct.invoices[inv].paid, acct.invoices[inv].credited, acct.invoices[inv].open_amount) == (4_999, 5_001, 0)
    assert acct.unapplied_cash() == {"CNY": 5_001}
    assert acct.unused_credit() == {}
    # The freed cash pays the next invoice, as received no earlier than the refund.
    nxt = invoice(acct, 2_000, "r2", day=date(2025, 5, 1))
    assert acct.invoices[nxt].open_amount == 0
    assert [(e.amount["amount"], e.effective_date) for e in revenue(acct)] == [
        (1_001, date(2025, 4, 1)),
        (999, date(2025, 4, 1)),
    ]
    assert acct.unapplied_cash() == {"CNY": 3_001}


def test_a_credit_beyond_what_was_paid_stays_credit_and_past_receivables_keep_their_day() -> None:
    acct = account()
    inv = invoice(acct, 10_000, "r1")
    acct.receive_payment(Money(3_000, "CNY"), date(2025, 2, 1), "BANK-1")
    acct.collect_events()
    acct.issue_credit_note(RevenueKind.ROYALTY, Money(12_000, "CNY"), date(2025, 4, 1), "fix", inv)
    assert [e.amount["amount"] for e in refunded(acct)] == [3_000]  # 7,000 open + 3,000 paid + 2,000 credit
    assert (acct.unused_credit(), acct.unapplied_cash()) == ({"CNY": 2_000}, {"CNY": 3_000})
    assert [r.open_amount.amount for r in acct.receivables(date(2025, 3, 1))] == [7_000]
    assert acct.receivables(date(2025, 4, 1)) == []
    assert acct.unapplied_cash(date(2025, 3, 31)) == {}
    assert acct.unapplied_cash(date(2025, 4, 1)) == {"CNY": 3_000}


@given(
    st.lists(st.integers(min_value=1, max_value=5_000), min_size=1, max_size=4),
    st.integers(min_value=1, max_value=30_000),
)
def test_revenue_received_less_revenue_refunded_is_what_the_invoices_are_paid(payments: list[int], credit: int) -> None:
    acct = account()
    inv = invoice(acct, 10_000, "r1")
    for i, amount in enumerate(payments):
        acct.receive_payment(Money(amount, "CNY"), date(2025, 2, 1 + i), f"BANK-{i}")
    acct.issue_credit_note(RevenueKind.ROYALTY, Money(credit, "CNY"), date(2025, 4, 1), "fix", inv)
    events = acct.collect_events()
    received = sum(e.amount["amount"] for e in events if isinstance(e, LicenseAccount.RevenueReceived))
    taken_back = sum(e.amount["amount"] for e in events if isinstance(e, LicenseAccount.RevenueRefunded))
    assert received - taken_back == sum(i.paid for i in acct.invoices.values())
    assert taken_back == max(0, min(sum(payments), 10_000) - max(0, 10_000 - credit))
    assert (
        sum(p.amount for p in acct.payments.values()) == sum(acct.unapplied_cash().values()) + acct.invoices[inv].paid
    )
