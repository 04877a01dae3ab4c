"""The reference model on small histories worked out by hand from the rules it states (its docstring):
equity proceeds through a member's own split (rule 5) and refunds running the waterfall backwards
(rule 3). The differential simulations compare it with the ledger; these hold it to the rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

from payout_reference import SUSPENSE, Fact, History, Policy, RefBalance, RefStatement, settle

from revenue_share.domain.facts import (
    AssetCost,
    CashReceipt,
    EquityProceeds,
    InventorShares,
    OwnershipSnapshot,
    Payee,
    PayeeKind,
    Period,
    Step,
)
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket

LEARNED = datetime(2025, 1, 1, tzinfo=UTC)
Q1 = Period("2025-Q1", date(2025, 1, 1), date(2025, 3, 31))
Q2 = Period("2025-Q2", date(2025, 4, 1), date(2025, 6, 30))
Q1_CLOSED = datetime(2025, 4, 5, tzinfo=UTC)
U, X = Payee(PayeeKind.MEMBER, "U", ""), Payee(PayeeKind.MEMBER, "X", "")
R1, R2 = Payee(PayeeKind.RESEARCHER, "r1", ""), Payee(PayeeKind.RESEARCHER, "r2", "")
# Costs recovered from income; no fee; half of the net to the researchers.
RECOVERING = CenterPolicy("c-1", date(2024, 1, 1), LEARNED, recover_costs=True,
                          researcher_brackets=(ResearcherBracket(0, 5_000),))  # fmt: skip


def inventors(contributions: dict[str, int], affiliations: dict[str, str]) -> InventorShares:
    return InventorShares("inv", "A", date(2024, 1, 1), contributions, affiliations, LEARNED)


def owned_by_u() -> list[OwnershipSnapshot | InventorShares]:
    return [OwnershipSnapshot("own", "A", date(2024, 1, 1), {"U": 10_000}, LEARNED),
            inventors({"r1": 10_000}, {"r1": "U"})]  # fmt: skip


def cost(cost_id: str, amount: int, day: date, paid_by: str) -> AssetCost:
    return AssetCost(cost_id, "A", amount, "CNY", day, paid_by, LEARNED)


def receipt(receipt_id: str, amount: int, day: date, learned: datetime = LEARNED, license_id: str = "L") -> CashReceipt:
    """Income on the asset; negative: revenue a credit note took back."""
    return CashReceipt(receipt_id, license_id, ("A",), "royalty", amount, "CNY", day, learned)


def proceeds(fact_id: str, member_id: str, amount: int) -> EquityProceeds:
    return EquityProceeds(fact_id, member_id, "S", amount, "CNY", date(2025, 2, 1), LEARNED, ("A",))


def lines_of(statements: dict[Payee, RefStatement]) -> dict[Payee, dict[tuple[str, Step, str, bool], int]]:
    return {payee: dict(statement.lines) for payee, statement in statements.items()}


# ---- rule 5: equity proceeds -------------------------------------------------------------------


def test_equity_proceeds_pay_the_members_own_split_and_its_own_inventors_with_no_fee_or_reward() -> None:
    u_split = MemberPolicy(
        "u-1", "U", date(2024, 1, 1), LEARNED, (SplitBracket(0, {"member": 6_000, "inventors": 4_000}),)
    )
    shares = inventors({"r1": 7_000, "r2": 3_000}, {"r1": "U", "r2": "X"})
    facts: list[Fact | Policy] = [RECOVERING, u_split, shares, proceeds("e1", "U", 10_001), proceeds("e2", "X", 500)]

    [q1] = settle(History(facts=facts, periods=[Q1]))

    # 10,001 by 6,000:4,000 is 6,000.6 and 4,000.4: the odd unit to the larger remainder. The
    # inventors' role pays U's own inventor alone; X, with no policy of its own, keeps its part.
    assert lines_of(q1.statements) == {
        U: {("CNY", Step.EQUITY, "u-1", False): 6_001},
        R1: {("CNY", Step.EQUITY, "u-1", False): 4_000},
        X: {("CNY", Step.EQUITY, "default", False): 500},
    }
    cny = q1.reconciliation["CNY"]
    expected = (10_501, 0, 10_501, 0, 0)
    assert (cny.receipts, cny.operating_fees, cny.payouts, cny.carried_forward, cny.residual) == expected


def test_equity_proceeds_of_a_member_with_no_inventor_of_its_own_pay_all_the_inventors() -> None:
    u_split = MemberPolicy(
        "u-1", "U", date(2024, 1, 1), LEARNED, (SplitBracket(0, {"member": 5_000, "inventors": 5_000}),)
    )
    facts: list[Fact | Policy] = [
        u_split,
        inventors({"r1": 2_500, "r2": 7_500}, {"r1": "X", "r2": "X"}),
        proceeds("e1", "U", 1_000),
    ]

    [q1] = settle(History(facts=facts, periods=[Q1]))

    assert lines_of(q1.statements) == {
        U: {("CNY", Step.EQUITY, "u-1", False): 500},
        R1: {("CNY", Step.EQUITY, "u-1", False): 125},
        R2: {("CNY", Step.EQUITY, "u-1", False): 375},
    }


def test_the_inventors_part_of_equity_proceeds_is_held_in_suspense_while_no_inventor_is_known() -> None:
    u_split = MemberPolicy(
        "u-1", "U", date(2024, 1, 1), LEARNED, (SplitBracket(0, {"member": 7_000, "inventors": 3_000}),)
    )

    [q1] = settle(History(facts=[u_split, proceeds("e1", "U", 1_000)], periods=[Q1]))

    assert lines_of(q1.statements)[SUSPENSE] == {("CNY", Step.EQUITY, "u-1", False): 300}
    assert q1.statements[SUSPENSE].balances["CNY"] == RefBalance(0, 300, 0, 300)
    assert q1.reconciliation["CNY"].carried_forward == 300


# ---- rule 3: refunds ---------------------------------------------------------------------------


def test_a_refund_takes_back_the_recovered_costs_newest_first_before_it_reduces_income() -> None:
    costs = [cost("k1", 200, date(2025, 1, 1), "U"), cost("k2", 300, date(2025, 1, 2), "X")]
    facts: list[Fact | Policy] = [RECOVERING, *owned_by_u(), *costs, receipt("in", 1_000, date(2025, 2, 1)),
                                  receipt("back", -400, date(2025, 3, 1))]  # fmt: skip

    [q1] = settle(History(facts=facts, periods=[Q1]))

    # 1,000 repays k1 (200) and k2 (300) and leaves 500, half to r1. Taking back 400: k2's 300
    # (the newer cost), then 100 of k1's; nothing is left to reduce the 500.
    assert lines_of(q1.statements) == {
        U: {("CNY", Step.COST_RECOVERY, "c-1", False): 100, ("CNY", Step.OWNER_SHARE, "c-1+default", False): 250},
        R1: {("CNY", Step.RESEARCHERS_REWARD, "c-1", False): 250},
    }
    assert q1.reconciliation["CNY"].receipts == 600


def test_on_one_day_income_recovers_costs_before_a_refund_on_another_license_takes_back() -> None:
    refund = receipt("back", -300, date(2025, 2, 1), license_id="L2")
    facts: list[Fact | Policy] = [RECOVERING, *owned_by_u(), cost("k1", 500, date(2025, 1, 1), "U"), refund,
                                  receipt("in", 1_000, date(2025, 2, 1))]  # fmt: skip

    [q1] = settle(History(facts=facts, periods=[Q1]))

    # The income repays the 500 first and leaves 500; the refund then takes 300 of the recovery back.
    assert lines_of(q1.statements) == {
        U: {("CNY", Step.COST_RECOVERY, "c-1", False): 200, ("CNY", Step.OWNER_SHARE, "c-1+default", False): 250},
        R1: {("CNY", Step.RESEARCHERS_REWARD, "c-1", False): 250},
    }


def test_a_refund_and_income_of_one_license_on_one_day_are_one_amount() -> None:
    """A day's receipts are summed per cell (license, currency, asset): cash a refund frees that pays
    the license's next invoice the same day moves nothing."""
    facts: list[Fact | Policy] = [RECOVERING, *owned_by_u(), cost("k1", 500, date(2025, 1, 1), "U"),
             receipt("back", -300, date(2025, 2, 1)), receipt("in", 1_000, date(2025, 2, 1))]  # fmt: skip

    [q1] = settle(History(facts=facts, periods=[Q1]))

    # 700 on the day: 500 repays k1, 200 is shared.
    assert lines_of(q1.statements) == {
        U: {("CNY", Step.COST_RECOVERY, "c-1", False): 500, ("CNY", Step.OWNER_SHARE, "c-1+default", False): 100},
        R1: {("CNY", Step.RESEARCHERS_REWARD, "c-1", False): 100},
    }


def test_a_refund_beyond_the_recovered_costs_leaves_the_payees_a_negative_balance_carried_forward() -> None:
    refund = receipt("back", -600, date(2025, 4, 10), learned=datetime(2025, 4, 11, tzinfo=UTC))
    facts: list[Fact | Policy] = [RECOVERING, *owned_by_u(), cost("k1", 100, date(2025, 1, 1), "U"),
                                  receipt("in", 1_000, date(2025, 1, 10)), refund]  # fmt: skip

    q1, q2 = settle(History(facts=facts, periods=[Q1, Q2], closes=[(Q1.period_id, Q1_CLOSED)]))

    assert q1.statements[U].balances["CNY"] == RefBalance(0, 550, 550, 0)  # 100 recovered, 450 its share
    # Q2: the 100 recovered goes back (paid in full, so negative), the other 500 halves what r1 and U got.
    assert lines_of(q2.statements) == {
        U: {("CNY", Step.COST_RECOVERY, "c-1", False): -100, ("CNY", Step.OWNER_SHARE, "c-1+default", False): -250},
        R1: {("CNY", Step.RESEARCHERS_REWARD, "c-1", False): -250},
    }
    assert q2.statements[U].balances["CNY"] == RefBalance(0, -350, -100, -250)
    assert q2.statements[R1].balances["CNY"] == RefBalance(0, -250, 0, -250)
    cny = q2.reconciliation["CNY"]
    assert (cny.receipts, cny.cost_recoveries, cny.payouts, cny.carried_forward, cny.residual) == (
        -600,
        -100,
        0,
        -500,
        0,
    )
