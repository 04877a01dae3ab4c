"""The spin-off aggregate: cap table rules, Art. 45(2), options, proceeds split exactly."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from incubation.domain.references import KnownAsset, KnownMember, OwnershipChange
from incubation.domain.spin_off import ExerciseWindow, SpinOff
from incubation.domain.vesting import VestingTerms
from ipshare_kernel.errors import Conflict, DomainError
from ipshare_kernel.money import Money

FOUNDED = date(2025, 1, 1)
UNI, CORP = ("member", "uni"), ("member", "corp")
ALICE, BOB = ("researcher", "alice"), ("researcher", "bob")
FUND = ("investor", "fund")
PRICED: dict[str, Any] = {"exercise_price": Money(250, "CNY"), "window": ExerciseWindow(90, "days")}


def spin_off(authorized: int = 1_000_000) -> SpinOff:
    return SpinOff.found(
        name="Laser Co", asset_ids=[uuid.UUID(int=1)], founded_via="capital_contribution",
        share_classes={"common": authorized}, effective_date=FOUNDED,
    )  # fmt: skip


def test_holdings_are_answered_as_of_any_date() -> None:
    company = spin_off()
    company.issue(UNI, "common", 600, date(2025, 1, 10))
    company.issue(FUND, "common", 400, date(2025, 3, 1))
    company.transfer(UNI, ALICE, "common", 100, date(2025, 2, 1))
    assert company.holdings(date(2025, 1, 31)) == {(UNI, "common"): 600}
    assert company.holdings(date(2025, 3, 1)) == {(UNI, "common"): 500, (ALICE, "common"): 100, (FUND, "common"): 400}


def test_a_backdated_transfer_that_would_overdraw_a_later_day_is_refused() -> None:
    company = spin_off()
    company.issue(UNI, "common", 100, date(2025, 1, 10))
    company.transfer(UNI, ALICE, "common", 100, date(2025, 3, 1))
    with pytest.raises(Conflict, match="would hold -50"):
        company.transfer(UNI, BOB, "common", 50, date(2025, 2, 1))
    assert len(company.movements) == 2
    assert not company.pending_events[3:]


def test_issuing_past_the_authorized_shares_or_before_founding_is_refused() -> None:
    company = spin_off(authorized=1000)
    company.issue(UNI, "common", 1000, date(2025, 1, 10))
    with pytest.raises(Conflict, match="exceed the 1000 authorized"):
        company.issue(FUND, "common", 1, date(2025, 1, 11))
    with pytest.raises(DomainError, match="founded"):
        company.issue(FUND, "common", 1, date(2024, 12, 31))
    with pytest.raises(DomainError, match="no share class"):
        company.issue(FUND, "preferred", 1, date(2025, 2, 1))


def test_an_option_pool_is_reserved_out_of_the_authorized_shares() -> None:
    company = spin_off(authorized=1000)
    company.create_plan("ESOP", "common", 200, FOUNDED)
    with pytest.raises(Conflict):
        company.issue(UNI, "common", 801, date(2025, 1, 2))
    company.issue(UNI, "common", 800, date(2025, 1, 2))


@st.composite
def movements(draw: st.DrawFn) -> list[tuple[str, tuple[str, str], tuple[str, str], int, date]]:
    holders = [UNI, CORP, ALICE, BOB, FUND]
    days = st.dates(FOUNDED, date(2026, 12, 31))
    return [
        (
            draw(st.sampled_from(["issue", "transfer", "repurchase", "cancel"])),
            draw(st.sampled_from(holders)),
            draw(st.sampled_from(holders)),
            draw(st.integers(1, 400)),
            draw(days),
        )
        for _ in range(draw(st.integers(1, 25)))
    ]


@given(moves=movements(), as_of=st.dates(FOUNDED, date(2027, 1, 1)), pool=st.integers(0, 300))
def test_any_sequence_keeps_holdings_non_negative_and_fully_diluted_whole(
    moves: list[tuple[str, tuple[str, str], tuple[str, str], int, date]], as_of: date, pool: int
) -> None:
    company = spin_off(authorized=2000)
    if pool:
        company.create_plan("ESOP", "common", pool, FOUNDED)
    for kind, holder, other, quantity, day in moves:
        try:
            match kind:
                case "issue":
                    company.issue(holder, "common", quantity, day)
                case "transfer":
                    assume(holder != other)
                    company.transfer(holder, other, "common", quantity, day)
                case "repurchase":
                    company.repurchase(holder, "common", quantity, day)
                case _:
                    company.cancel(holder, "common", quantity, day)
        except Conflict:
            pass
    for day in sorted({as_of, *(m.day for m in company.movements)}):
        held = company.holdings(day)
        assert all(q > 0 for q in held.values())
        assert sum(held.values()) <= 2000 - pool
    lines = company.fully_diluted(as_of)
    assert sum(line.total for line in lines) == sum(company.holdings(as_of).values()) + pool


UNIVERSITY = KnownMember("uni", "Huaxia University", "university", state_established=True)
ENTERPRISE = KnownMember("corp", "Precision Turbines", "enterprise", state_established=False)
ASSET = str(uuid.UUID(int=1))


def owned_by(*members: str, since: date = FOUNDED) -> list[KnownAsset]:
    owners = {m: 10_000 // len(members) for m in members}
    return [KnownAsset(ASSET, "laser cladding", (OwnershipChange(since, owners),))]


def contributed(
    rewards: dict[str, int], member: KnownMember = UNIVERSITY, own_rule_document: str = ""
) -> tuple[SpinOff, str]:
    company = spin_off()
    contribution = company.contribute_ip(
        member=member, assets=owned_by(member.member_id), valuation=Money(5_000_000_00, "CNY"),
        share_class="common", shares=1000, rewards=rewards, own_rule_document=own_rule_document,
        day=date(2025, 1, 2),
    )  # fmt: skip
    return company, contribution.contribution_id


def test_a_state_established_member_rewards_half_even_under_its_own_rule() -> None:
    with pytest.raises(DomainError, match="state-established") as refused:
        contributed({"alice": 300, "bob": 199})
    assert refused.value.details == {"field": "rewards", "reward_bps": 4990, "required_bps": 5000}
    with pytest.raises(DomainError, match="state-established"):
        contributed({"alice": 100}, own_rule_document="HXU-TT-2023-07")
    company, cid = contributed({"alice": 300, "bob": 200})
    assert company.contributions[cid].reward_bps == 5000
    assert not company.contributions[cid].below_statutory_floor
    (event,) = [e for e in company.collect_events() if isinstance(e, SpinOff.IpContributed)]
    assert event.member_state_established


def test_another_member_rewards_under_half_only_under_its_own_rule_by_document() -> None:
    with pytest.raises(DomainError, match="own reward rule") as refused:
        contributed({"alice": 100}, member=ENTERPRISE)
    assert refused.value.details["field"] == "own_rule_document"
    company, cid = contributed({"alice": 100}, member=ENTERPRISE, own_rule_document=" PT-HR-2022-11 ")
    contribution = company.contributions[cid]
    assert (contribution.own_rule, contribution.own_rule_document, contribution.reward_bps) == (
        True, "PT-HR-2022-11", 1000,
    )  # fmt: skip
    assert not contribution.below_statutory_floor
    company.reward_researchers(cid, {"bob": 200}, date(2025, 2, 1))
    assert company.contributions[cid].reward_bps == 3000
    assert company.holdings(date(2025, 2, 1))[(CORP, "common")] == 700


def test_only_an_owner_of_the_asset_on_the_day_contributes_it() -> None:
    company = spin_off()
    with pytest.raises(Conflict, match="did not own asset") as refused:
        company.contribute_ip(
            member=UNIVERSITY, assets=owned_by("corp"), valuation=Money(1, "CNY"), share_class="common",
            shares=1000, rewards={"alice": 500}, own_rule_document="", day=date(2025, 1, 2),
        )  # fmt: skip
    assert refused.value.details["owners"] == {"corp": 10_000}
    with pytest.raises(Conflict, match="on 2025-01-02"):  # co-owned only from March
        company.contribute_ip(
            member=UNIVERSITY, assets=owned_by("corp", "uni", since=date(2025, 3, 1)), valuation=Money(1, "CNY"),
            share_class="common", shares=1000, rewards={"alice": 500}, own_rule_document="", day=date(2025, 1, 2),
        )  # fmt: skip
    company.contribute_ip(
        member=UNIVERSITY, assets=owned_by("corp", "uni", since=date(2025, 3, 1)), valuation=Money(1, "CNY"),
        share_class="common", shares=1000, rewards={"alice": 500}, own_rule_document="", day=date(2025, 3, 1),
    )  # fmt: skip


def test_a_contribution_recorded_before_own_rules_named_their_document_reads_back() -> None:
    state = {"own_rule": True}
    SpinOff.IpContributed.upcast_v1_v2(state)
    assert state == {"own_rule": True, "own_rule_document": "(own rule, document not recorded)",
                     "member_state_established": False}  # fmt: skip


def granted(acceleration: str = "none") -> tuple[SpinOff, str]:
    company = spin_off()
    plan = company.create_plan("ESOP", "common", 10_000, FOUNDED)
    terms = VestingTerms(start=FOUNDED, acceleration=acceleration)
    return company, company.grant_options(plan, "alice", 4800, terms, date(2035, 1, 1), FOUNDED, **PRICED)


def test_exercise_is_limited_to_vested_and_unexercised_options() -> None:
    company, grant = granted()
    with pytest.raises(Conflict, match="only 0 options"):
        company.exercise(grant, 1, date(2025, 12, 31))
    company.exercise(grant, 1000, date(2026, 1, 1))
    with pytest.raises(Conflict, match="only 200"):
        company.exercise(grant, 201, date(2026, 1, 1))
    assert company.holdings(date(2026, 1, 1)) == {(ALICE, "common"): 1000}


def test_departure_forfeits_unvested_options_and_the_window_then_ends_the_rest() -> None:
    company, grant = granted()  # a 90-day window after departure
    company.depart(grant, without_cause=False, day=date(2026, 7, 1))  # 18 months: 1800 vested
    options = company.grant(grant)
    assert options.forfeited == 3000
    assert options.vested(date(2030, 1, 1)) == 1800
    assert options.lapses_on == date(2026, 9, 29)
    assert options.exercisable(date(2026, 9, 28)) == 1800
    assert options.exercisable(date(2026, 9, 29)) == 0
    assert options.outstanding_as_of(date(2026, 9, 28)) == 1800
    assert options.outstanding_as_of(date(2026, 9, 29)) == 0  # lapsed, recorded or not
    with pytest.raises(Conflict, match="expired"):
        company.exercise(grant, 1, date(2026, 9, 29))
    with pytest.raises(Conflict, match="not expired"):
        company.expire(grant, date(2026, 9, 28))
    assert company.expire(grant, date(2026, 10, 15)) == 1800
    (expired,) = [e for e in company.collect_events() if isinstance(e, SpinOff.OptionsExpired)]
    assert expired.effective_date == date(2026, 9, 29)  # dated the day they lapsed
    assert company.grant(grant).outstanding == 0


def test_a_window_in_months_clamps_to_the_month_end_and_never_outlives_the_expiry() -> None:
    company = spin_off()
    plan = company.create_plan("ESOP", "common", 10_000, FOUNDED)
    terms = VestingTerms(start=FOUNDED, cliff_months=0)
    months = company.grant_options(plan, "alice", 100, terms, date(2035, 1, 1), FOUNDED,
                                   exercise_price=Money(1, "CNY"), window=ExerciseWindow(1, "months"))  # fmt: skip
    short = company.grant_options(plan, "bob", 100, terms, date(2026, 2, 1), FOUNDED,
                                  exercise_price=Money(1, "CNY"), window=ExerciseWindow(12, "months"))  # fmt: skip
    company.depart(months, without_cause=False, day=date(2026, 1, 31))
    company.depart(short, without_cause=False, day=date(2026, 1, 31))
    assert company.grant(months).lapses_on == date(2026, 2, 28)
    assert company.grant(short).lapses_on == date(2026, 2, 1)


def test_an_option_carries_its_exercise_price_in_minor_units_and_a_window() -> None:
    company, grant = granted()
    options = company.grant(grant)
    assert (options.exercise_price, options.window) == (Money(250, "CNY"), ExerciseWindow(90, "days"))
    (event,) = [e for e in company.collect_events() if isinstance(e, SpinOff.OptionsGranted)]
    assert event.exercise_price == {"amount": 250, "currency": "CNY"}
    assert event.exercise_window == {"length": 90, "unit": "days"}
    plan = next(iter(company.plans))
    with pytest.raises(DomainError, match="not negative"):
        company.grant_options(plan, "bob", 1, VestingTerms(start=FOUNDED), date(2030, 1, 1), FOUNDED,
                              exercise_price=Money(-1, "CNY"), window=ExerciseWindow(90, "days"))  # fmt: skip
    with pytest.raises(DomainError, match="days or months"):
        company.grant_options(plan, "bob", 1, VestingTerms(start=FOUNDED), date(2030, 1, 1), FOUNDED,
                              exercise_price=Money(1, "CNY"), window=ExerciseWindow(3, "weeks"))  # fmt: skip


def test_a_grant_recorded_before_prices_and_windows_reads_back_with_none() -> None:
    state = {"grant_id": "g"}
    SpinOff.OptionsGranted.upcast_v1_v2(state)
    assert state == {"grant_id": "g", "exercise_price": {"amount": 0, "currency": "CNY"},
                     "exercise_window": {"length": 0, "unit": ""}}  # fmt: skip


# ---- effective dates in order (as of) ------------------------------------------------------


def test_an_exercise_before_the_company_was_founded_or_the_grant_is_refused() -> None:
    company = spin_off()
    plan = company.create_plan("ESOP", "common", 10_000, FOUNDED)
    terms = VestingTerms(start=date(2024, 1, 1), cliff_months=0)  # vesting credited from before founding
    grant = company.grant_options(plan, "alice", 1200, terms, date(2035, 1, 1), date(2025, 3, 1), **PRICED)
    with pytest.raises(DomainError, match="before the spin-off was founded"):
        company.exercise(grant, 100, date(2024, 12, 1))
    with pytest.raises(DomainError, match="before the grant"):
        company.exercise(grant, 100, date(2025, 2, 1))
    with pytest.raises(DomainError, match="before the spin-off was founded"):
        company.create_plan("early", "common", 10, date(2024, 12, 31))
    with pytest.raises(DomainError, match="once their plan exists"):
        company.grant_options(plan, "bob", 1, terms, date(2035, 1, 1), date(2024, 12, 31), **PRICED)
    company.exercise(grant, 100, date(2025, 3, 1))
    assert company.holdings(date(2025, 2, 28)) == {}


def test_a_backdated_departure_behind_an_exercise_of_more_than_had_vested_is_refused() -> None:
    company, grant = granted()  # 4800 over 48 months, 12-month cliff
    company.exercise(grant, 2000, date(2027, 1, 1))  # 2400 vested then
    with pytest.raises(Conflict, match="only 1200 had vested") as refused:
        company.depart(grant, without_cause=False, day=date(2026, 1, 1))
    assert refused.value.details["exercises_after"] == [{"date": "2027-01-01", "quantity": 2000}]
    with pytest.raises(Conflict, match="window"):  # 2000 had vested, but the window closed before
        company.depart(grant, without_cause=False, day=date(2026, 9, 1))
    company.depart(grant, without_cause=False, day=date(2026, 11, 1))  # 2200 vested; exercised in the window
    options = company.grant(grant)
    assert options.forfeited == 2600
    assert [options.outstanding_as_of(d) for d in (date(2026, 12, 31), date(2027, 1, 1))] == [2200, 200]
    assert min(options.outstanding_as_of(date(2026, 11, 1) + timedelta(days=n)) for n in range(400)) == 0


def test_fully_diluted_as_of_a_past_date_ignores_a_later_exercise() -> None:
    company, grant = granted()
    company.issue(UNI, "common", 5000, FOUNDED)
    before = company.fully_diluted(date(2026, 6, 30))
    company.exercise(grant, 1200, date(2026, 7, 1))
    assert company.fully_diluted(date(2026, 6, 30)) == before
    lines = {line.holder: (line.shares, line.options) for line in company.fully_diluted(date(2026, 7, 1))}
    assert lines[ALICE] == (1200, 3600)


def test_forfeited_options_return_to_the_pool_from_the_departure_date() -> None:
    company = spin_off()
    plan = company.create_plan("ESOP", "common", 4800, FOUNDED)
    grant = company.grant_options(plan, "alice", 4800, VestingTerms(start=FOUNDED), date(2035, 1, 1), FOUNDED,
                                  **PRICED)  # fmt: skip
    with pytest.raises(Conflict, match="left in the pool"):
        company.grant_options(plan, "bob", 1, VestingTerms(start=FOUNDED), date(2035, 1, 1), date(2026, 7, 1),
                              **PRICED)  # fmt: skip
    company.depart(grant, without_cause=False, day=date(2026, 7, 1))  # 1800 vested, 3000 forfeited

    def pool(day: date) -> int:
        return sum(line.options for line in company.fully_diluted(day) if line.holder is None)

    assert (pool(date(2026, 6, 30)), pool(date(2026, 7, 1))) == (0, 3000)
    assert pool(date(2026, 9, 29)) == 4800  # the vested 1800 lapsed unexercised after 90 days
    with pytest.raises(Conflict, match="left in the pool"):  # not before the departure
        company.grant_options(plan, "bob", 1, VestingTerms(start=FOUNDED), date(2035, 1, 1), date(2026, 6, 30),
                              **PRICED)  # fmt: skip
    company.grant_options(plan, "bob", 3000, VestingTerms(start=FOUNDED), date(2035, 1, 1), date(2026, 7, 1),
                          **PRICED)  # fmt: skip
    assert pool(date(2026, 7, 1)) == 0
    assert sum(line.total for line in company.fully_diluted(date(2026, 7, 1))) == 4800


def test_a_backdated_issuance_must_leave_room_for_the_pool_reserved_on_its_day() -> None:
    company = spin_off(authorized=1000)
    plan = company.create_plan("ESOP", "common", 100, FOUNDED)
    grant = company.grant_options(plan, "alice", 100, VestingTerms(start=FOUNDED, cliff_months=0), date(2035, 1, 1),
                                  FOUNDED, **PRICED)  # fmt: skip
    company.issue(UNI, "common", 900, date(2025, 1, 2))
    company.cancel(UNI, "common", 50, date(2026, 12, 1))
    company.exercise(grant, 50, date(2027, 1, 1))
    with pytest.raises(Conflict, match="exceed"):  # 950 fit once 50 are exercised, but on 2025-06-01 the pool
        company.issue(FUND, "common", 50, date(2025, 6, 1))  # still reserves 100 beside 900 issued


def test_single_trigger_vests_everything_on_a_change_of_control() -> None:
    company, grant = granted("single")
    company.change_control(date(2025, 6, 1))
    assert company.grant(grant).vested(date(2025, 6, 1)) == 4800


def test_double_trigger_needs_a_departure_without_cause_after_the_change() -> None:
    company, grant = granted("double")
    company.change_control(date(2025, 6, 1))
    assert company.grant(grant).vested(date(2025, 6, 1)) == 0
    company.depart(grant, without_cause=True, day=date(2025, 7, 1))
    assert company.grant(grant).forfeited == 0
    assert company.grant(grant).vested(date(2025, 7, 1)) == 4800


@given(
    amount=st.integers(1, 10**12),
    holdings=st.lists(st.integers(1, 10**6), min_size=1, max_size=8),
)
def test_proceeds_split_by_the_cap_table_sum_exactly(amount: int, holdings: list[int]) -> None:
    company = spin_off(authorized=10**8)
    for n, quantity in enumerate(holdings):
        company.issue(("investor", f"i{n}"), "common", quantity, date(2025, 2, 1))
    lines = company.distribute("dividend", date(2025, 3, 1), Money(amount, "CNY"), date(2025, 3, 15))
    assert sum(line["amount"] for line in lines) == amount
    for line in lines:
        quantity = holdings[int(line["holder_id"][1:])]
        assert abs(line["amount"] - amount * quantity / sum(holdings)) < 1


def test_proceeds_follow_the_cap_table_on_the_record_date() -> None:
    company = spin_off()
    company.issue(UNI, "common", 500, date(2025, 1, 10))
    company.issue(FUND, "common", 500, date(2025, 1, 10))
    company.transfer(FUND, CORP, "common", 500, date(2025, 4, 1))
    lines = company.distribute("exit", date(2025, 3, 31), Money(1001, "CNY"), date(2025, 5, 1))
    # equal remainders: the odd fen goes to the first holder in key order (stable, documented)
    assert lines == [
        {"holder_kind": "investor", "holder_id": "fund", "amount": 501},
        {"holder_kind": "member", "holder_id": "uni", "amount": 500},
    ]
