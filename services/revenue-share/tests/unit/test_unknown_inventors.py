"""A member's inventors' part is held while no inventor of the asset is known, then paid to them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from revenue_share.domain.facts import (
    CashReceipt,
    EquityProceeds,
    InventorShares,
    Member,
    MemberKind,
    OwnershipSnapshot,
    Period,
)
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket

Q1 = Period("2024-Q1", date(2024, 1, 1), date(2024, 3, 31))
Q2 = Period("2024-Q2", date(2024, 4, 1), date(2024, 6, 30))
LEARNED = datetime(2024, 1, 2, tzinfo=UTC)
CLOSE_Q1 = datetime(2024, 4, 2, tzinfo=UTC)
LATER = datetime(2024, 4, 10, tzinfo=UTC)


def ledger_without_inventors() -> Ledger:
    """Member E (an enterprise) owns A; its own split gives 40% to its inventors; none is known yet."""
    ledger = Ledger()
    for period in (Q1, Q2):
        ledger.define_period(period)
    ledger.add_member(Member("E", MemberKind.ENTERPRISE, False, LEARNED))
    # No researchers' reward at the center: all of E's inventors' money comes through E's own split.
    ledger.add_policy(CenterPolicy("c1", date(2023, 1, 1), LEARNED, researcher_brackets=(ResearcherBracket(0, 0),)))
    split = SplitBracket(0, {"inventors": 4_000, "member": 6_000})
    ledger.add_policy(MemberPolicy("e1", "E", date(2023, 1, 1), LEARNED, (split,)))
    ledger.add_ownership(OwnershipSnapshot("own-1", "A", date(2023, 1, 1), {"E": 10_000}, LEARNED))
    return ledger


def paid(statements: tuple[object, ...]) -> dict[str, int]:
    return {str(s.payee): sum(b.paid for b in s.balances) for s in statements}  # type: ignore[attr-defined]


def carried(statements: tuple[object, ...]) -> dict[str, int]:
    return {str(s.payee): sum(b.carried_out for b in s.balances) for s in statements}  # type: ignore[attr-defined]


def test_the_inventors_part_of_a_members_royalty_is_held_until_the_inventors_are_known() -> None:
    ledger = ledger_without_inventors()
    ledger.add_receipt(CashReceipt("rc", "L", ("A",), "royalty", 10_000, "CNY", date(2024, 2, 1), LEARNED))
    q1 = ledger.close_period("2024-Q1", CLOSE_Q1)
    assert paid(q1)["member:E"] == 6_000
    assert carried(q1) == {"member:E": 0, "center:center/suspense": 4_000}
    ledger.add_inventors(InventorShares("inv-1", "A", date(2023, 1, 1), {"r1": 10_000}, {"r1": "E"}, LATER))
    q2 = ledger.close_period("2024-Q2", datetime(2024, 7, 2, tzinfo=UTC))
    assert paid(q2)["researcher:r1"] == 4_000
    assert carried(q2)["center:center/suspense"] == 0


def test_the_inventors_part_of_equity_proceeds_is_held_until_the_inventors_are_known() -> None:
    ledger = ledger_without_inventors()
    ledger.add_equity_proceeds(EquityProceeds("eq", "E", "S1", 10_000, "CNY", date(2024, 2, 1), LEARNED, ("A",)))
    q1 = ledger.close_period("2024-Q1", CLOSE_Q1)
    assert paid(q1)["member:E"] == 6_000
    assert carried(q1)["center:center/suspense"] == 4_000
    ledger.add_inventors(InventorShares("inv-1", "A", date(2023, 1, 1), {"r1": 10_000}, {"r1": "E"}, LATER))
    q2 = ledger.close_period("2024-Q2", datetime(2024, 7, 2, tzinfo=UTC))
    assert paid(q2)["researcher:r1"] == 4_000
