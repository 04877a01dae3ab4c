"""Art. 45 on the outcome: a state-established member's researchers get at least half its net income.

The researchers credited through a member are paid from that member's part of the net income:
its slice of the center's researchers' reward and its own split's "inventors" role, both paid to
its inventors of the asset (all the inventors if none is its own; held while none is known).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ipshare_kernel.errors import DomainError
from revenue_share.domain.facts import CashReceipt, InventorShares, Member, MemberKind, OwnershipSnapshot, Period
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import CenterPolicy, ResearcherBracket

Q1 = Period("2024-Q1", date(2024, 1, 1), date(2024, 3, 31))
LEARNED = datetime(2024, 1, 2, tzinfo=UTC)
CLOSED = datetime(2024, 4, 2, tzinfo=UTC)
UNIVERSITY = Member("U", MemberKind.UNIVERSITY, True, LEARNED)
ENTERPRISE = Member("E", MemberKind.ENTERPRISE, False, LEARNED)


def ledger(inventors: dict[str, int], affiliations: dict[str, str]) -> Ledger:
    """U (a state university) owns 90% of A, E (an enterprise) 10%; 100,000 received in Q1."""
    book = Ledger()
    book.define_period(Q1)
    book.add_member(UNIVERSITY)
    book.add_member(ENTERPRISE)
    book.add_ownership(OwnershipSnapshot("own", "A", date(2023, 1, 1), {"U": 9_000, "E": 1_000}, LEARNED))
    book.add_inventors(InventorShares("inv", "A", date(2023, 1, 1), inventors, affiliations, LEARNED))
    book.add_receipt(CashReceipt("rc", "L", ("A",), "royalty", 100_000, "CNY", date(2024, 2, 1), LEARNED))
    return book


def paid(book: Ledger) -> dict[str, int]:
    statements = book.close_period("2024-Q1", CLOSED)
    return {str(s.payee): sum(b.paid for b in s.balances) for s in statements}


def test_b_the_researchers_reward_is_paid_through_each_owner_to_its_own_inventors() -> None:
    """E's researcher made 90% of the invention, U's 10%: U's researcher still gets half of U's part."""
    book = ledger({"rE": 9_000, "rU": 1_000}, {"rE": "E", "rU": "U"})
    assert paid(book) == {"researcher:rU": 45_000, "researcher:rE": 5_000, "member:U": 45_000, "member:E": 5_000}
    assert book.floor_shortfalls("2024-Q1") == []


def test_b_an_owner_none_of_whose_researchers_invented_rewards_the_inventors() -> None:
    """E's researcher is the sole inventor: U's half of its part rewards the one who made the result."""
    book = ledger({"rE": 10_000}, {"rE": "E"})
    assert paid(book) == {"researcher:rE": 50_000, "member:U": 45_000, "member:E": 5_000}
    assert book.floor_shortfalls("2024-Q1") == []


def test_a_a_state_member_admitted_after_a_low_center_policy_stops_the_close_naming_the_shortfall() -> None:
    book = Ledger()
    book.define_period(Q1)
    low = CenterPolicy("low", date(2023, 1, 1), LEARNED, researcher_brackets=(ResearcherBracket(0, 2_000),))
    book.check_policy(low, by_admin=True)  # no state-established member yet: accepted
    book.add_policy(low)
    later = datetime(2024, 1, 10, tzinfo=UTC)
    book.add_member(Member("U", MemberKind.UNIVERSITY, True, later))
    book.add_ownership(OwnershipSnapshot("own", "A", date(2023, 1, 1), {"U": 10_000}, later))
    book.add_inventors(InventorShares("inv", "A", date(2023, 1, 1), {"rU": 10_000}, {"rU": "U"}, later))
    book.add_receipt(CashReceipt("rc", "L", ("A",), "royalty", 100_000, "CNY", date(2024, 2, 1), later))
    book.close_period("2024-Q1", CLOSED)
    (shortfall,) = book.floor_shortfalls("2024-Q1")
    assert (shortfall.member_id, shortfall.asset_id, shortfall.currency) == ("U", "A", "CNY")
    assert (shortfall.net_income, shortfall.researchers, shortfall.required) == (100_000, 20_000, 50_000)
    for named in ("member U", "asset A", "20,000 of 100,000 CNY", "at least 50,000"):
        assert named in shortfall.message


@pytest.mark.parametrize("fee_bps", [5_001, 9_000, 10_000])
def test_c_an_operating_fee_that_leaves_the_researchers_under_half_is_refused(fee_bps: int) -> None:
    book = ledger({"rU": 10_000}, {"rU": "U"})
    fee = CenterPolicy("fee", date(2023, 1, 1), LEARNED, fee_bps=fee_bps,
                       researcher_brackets=(ResearcherBracket(0, 10_000),))  # fmt: skip
    with pytest.raises(DomainError, match="at least 50%"):
        book.check_policy(fee, by_admin=True)


def test_c_an_operating_fee_that_leaves_half_for_the_researchers_is_accepted() -> None:
    book = ledger({"rU": 10_000}, {"rU": "U"})
    book.check_policy(
        CenterPolicy(
            "fee", date(2023, 1, 1), LEARNED, fee_bps=5_000, researcher_brackets=(ResearcherBracket(0, 10_000),)
        ),
        by_admin=True,
    )
