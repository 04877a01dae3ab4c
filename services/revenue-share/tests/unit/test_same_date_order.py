"""Facts of one date apply in the source service's log order, live, in a replay and after a rebuild."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import pytest
from payout_reference import History, settle

from revenue_share.adapters.inbox import FactRow
from revenue_share.domain.facts import Payee, PayeeKind, Period
from revenue_share.domain.ledger import Ledger
from revenue_share.ledger_feed import add_fact, domain_facts

PERIOD = Period("2025", date(2025, 1, 1), date(2025, 12, 31))
LEARNED = datetime(2026, 1, 5, tzinfo=UTC)  # a replay dates every fact of a close alike
SALE_DAY = "2025-03-01"


def rows(facts: list[tuple[str, str, dict[str, Any]]]) -> list[FactRow]:
    """Inbox rows in log order (positions 1, 2, ...), all learned at one time, as a replay dates them."""
    return [FactRow(seq, fact_id, kind, body, LEARNED, seq) for seq, (fact_id, kind, body) in enumerate(facts, 1)]


def paid(facts: list[FactRow], order: random.Random) -> dict[str, int]:
    ledger = Ledger()
    ledger.define_period(PERIOD)
    for row in sorted(facts, key=lambda _: order.random()):
        add_fact(ledger, row)
    return {str(s.payee): sum(b.paid for b in s.balances) for s in ledger.provisional(PERIOD.period_id)}


def ownership(asset: str, day: str, owners: dict[str, int]) -> dict[str, Any]:
    return {"asset_id": asset, "effective_date": day, "owners": owners}


def inventors(asset: str, day: str, contributions: dict[str, int]) -> dict[str, Any]:
    affiliations = dict.fromkeys(contributions, "U")
    return {"asset_id": asset, "effective_date": day, "contributions": contributions, "affiliations": affiliations}


def receipt(day: str, amount: int) -> dict[str, Any]:
    return {"license_id": "L", "asset_ids": ["A"], "kind": "royalty", "amount": amount, "currency": "CNY",
            "effective_date": day, "asset_split": {}}  # fmt: skip


# Event ids are random: here the second seller's sale has the smaller id.
CO_OWNERS_SELL_TO_C = rows([
    ("ffff-own", "ownership", ownership("A", "2024-01-01", {"A-co": 5_000, "B-co": 5_000})),
    ("ffff-inv", "inventors", inventors("A", "2024-01-01", {"r1": 10_000})),
    ("zzzz-a-sells", "ownership", ownership("A", SALE_DAY, {"B-co": 5_000, "C": 5_000})),
    ("aaaa-b-sells", "ownership", ownership("A", SALE_DAY, {"C": 10_000})),
    ("rc", "receipt", receipt("2025-06-01", 100_000)),
])  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_two_co_owners_selling_to_one_member_on_one_date_leave_it_the_whole_asset(seed: int) -> None:
    """Live, in a replay (every fact learned at one time, read in any order) and after a rebuild: C
    owns the asset after both sales of the day, so it gets the owners' half of the receipt."""
    assert paid(CO_OWNERS_SELL_TO_C, random.Random(seed)) == {"member:C": 50_000, "researcher:r1": 50_000}


def test_the_later_of_two_inventor_corrections_of_one_day_is_in_force() -> None:
    facts = rows([
        ("ffff-own", "ownership", ownership("A", "2024-01-01", {"U": 10_000})),
        ("ffff-inv", "inventors", inventors("A", "2024-01-01", {"r1": 10_000})),
        ("zzzz-first", "inventors", inventors("A", SALE_DAY, {"r1": 5_000, "r2": 5_000})),
        ("aaaa-second", "inventors", inventors("A", SALE_DAY, {"r2": 10_000})),
        ("rc", "receipt", receipt("2025-06-01", 100_000)),
    ])  # fmt: skip
    assert paid(facts, random.Random(1)) == {"member:U": 50_000, "researcher:r2": 50_000}


def test_the_reference_model_orders_same_date_facts_alike() -> None:
    facts = [fact for row in CO_OWNERS_SELL_TO_C for fact in domain_facts(row)]
    (outcome,) = settle(History(facts, [PERIOD], []))
    assert sum(b.paid for b in outcome.statements[Payee(PayeeKind.MEMBER, "C")].balances.values()) == 50_000
