"""Bracket thresholds carry their currency: a USD threshold never cuts income in CNY."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ipshare_kernel.errors import DomainError
from revenue_share.domain.facts import CashReceipt, InventorShares, OwnershipSnapshot, Period
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket
from revenue_share.domain.policy_versions import fields_of, policy_of

Q1 = Period("2024-Q1", date(2024, 1, 1), date(2024, 3, 31))
LEARNED = datetime(2024, 1, 2, tzinfo=UTC)
THREE_MILLION = 300_000_000  # 3,000,000.00 in minor units


def stanford(currency: str) -> CenterPolicy:
    """Researchers get 50% of a license's income up to 3,000,000.00 USD, 20% above."""
    brackets = (ResearcherBracket(0, 5_000), ResearcherBracket(THREE_MILLION, 2_000, currency))
    return CenterPolicy("c1", date(2023, 1, 1), LEARNED, researcher_brackets=brackets)


def researchers_paid(policy: CenterPolicy, currency: str) -> int:
    ledger = Ledger()
    ledger.define_period(Q1)
    ledger.add_policy(policy)
    ledger.add_ownership(OwnershipSnapshot("own", "A", date(2023, 1, 1), {"E": 10_000}, LEARNED))
    ledger.add_inventors(InventorShares("inv", "A", date(2023, 1, 1), {"r1": 10_000}, {"r1": "E"}, LEARNED))
    amount = 2 * THREE_MILLION
    ledger.add_receipt(CashReceipt("rc", "L", ("A",), "royalty", amount, currency, date(2024, 2, 1), LEARNED))
    statements = ledger.close_period("2024-Q1", datetime(2024, 4, 2, tzinfo=UTC))
    return sum(b.paid for s in statements if str(s.payee) == "researcher:r1" for b in s.balances)


def test_a_usd_threshold_cuts_usd_income() -> None:
    # 50% of the first 3M, 20% of the next 3M.
    assert researchers_paid(stanford("USD"), "USD") == THREE_MILLION // 2 + THREE_MILLION // 5


def test_a_usd_threshold_does_not_cut_income_in_another_currency() -> None:
    assert researchers_paid(stanford("USD"), "CNY") == THREE_MILLION


def test_each_currency_has_its_own_thresholds() -> None:
    brackets = (
        ResearcherBracket(0, 5_000),
        ResearcherBracket(THREE_MILLION, 2_000, "USD"),
        ResearcherBracket(THREE_MILLION * 7, 2_000, "CNY"),
    )
    policy = CenterPolicy("c1", date(2023, 1, 1), LEARNED, researcher_brackets=brackets)
    assert researchers_paid(policy, "CNY") == THREE_MILLION  # 6M CNY stays under 21M CNY
    assert researchers_paid(policy, "USD") == THREE_MILLION // 2 + THREE_MILLION // 5


def test_a_threshold_above_zero_names_its_currency() -> None:
    with pytest.raises(DomainError, match="currency"):
        CenterPolicy("c1", date(2023, 1, 1), LEARNED,
                     researcher_brackets=(ResearcherBracket(0, 5_000), ResearcherBracket(1, 2_000, "XXX")))  # fmt: skip


def test_a_version_recorded_before_thresholds_had_a_currency_reads_back_as_it_was_applied() -> None:
    """Stored PolicyVersionRecorded events have no currency on a bracket: such a threshold kept the
    meaning it had when the statements were issued (every currency), so a replay finds them again."""
    fields = fields_of(stanford("USD"))
    for bracket in fields["researcher_brackets"]:
        del bracket["currency"]
    legacy = policy_of(fields)
    assert isinstance(legacy, CenterPolicy)
    assert [b.currency for b in legacy.researcher_brackets] == ["", ""]
    assert researchers_paid(legacy, "CNY") == THREE_MILLION // 2 + THREE_MILLION // 5
    splits = (SplitBracket(0, {"member": 10_000}), SplitBracket(5, {"inventors": 10_000}, "JPY"))
    member = MemberPolicy("m1", "E", date(2023, 1, 1), LEARNED, splits)
    assert policy_of(fields_of(member)) == member
