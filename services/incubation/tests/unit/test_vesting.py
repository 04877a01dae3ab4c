"""Vesting tables: cliffs, month ends, leap days, milestones, acceleration, exact sums."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incubation.domain.vesting import VestingTerms, add_months, months_between, time_schedule, time_vested, vested
from ipshare_kernel.errors import DomainError

FOUR_YEARS = VestingTerms(start=date(2024, 1, 31))  # 48 months, 12-month cliff, monthly


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap February
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # leap day + a year
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 8, 31), 1, date(2024, 9, 30)),
        (date(2024, 11, 15), 3, date(2025, 2, 15)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
    ],
)
def test_month_arithmetic_clamps_to_the_month_end(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_whole_months_count_an_anniversary_clamped_to_the_month_end() -> None:
    assert months_between(date(2024, 1, 31), date(2024, 2, 28)) == 0
    assert months_between(date(2024, 1, 31), date(2024, 2, 29)) == 1
    assert months_between(date(2024, 2, 29), date(2025, 2, 28)) == 12
    assert months_between(date(2024, 5, 10), date(2024, 5, 1)) == 0


def test_nothing_vests_before_the_cliff_and_a_year_vests_on_it() -> None:
    assert time_vested(4800, FOUR_YEARS, date(2025, 1, 30)) == 0
    assert time_vested(4800, FOUR_YEARS, date(2025, 1, 31)) == 1200
    assert time_vested(4800, FOUR_YEARS, date(2025, 2, 27)) == 1200
    assert time_vested(4800, FOUR_YEARS, date(2025, 2, 28)) == 1300  # Jan 31 + 13 months
    assert time_vested(4800, FOUR_YEARS, date(2028, 1, 31)) == 4800
    assert time_vested(4800, FOUR_YEARS, date(2040, 1, 1)) == 4800


def test_a_grant_starting_on_a_leap_day_vests_on_the_last_day_of_february() -> None:
    terms = VestingTerms(start=date(2024, 2, 29), total_months=12, cliff_months=12)
    assert time_vested(100, terms, date(2025, 2, 27)) == 0
    assert time_vested(100, terms, date(2025, 2, 28)) == 100


def test_cumulative_rounding_spreads_the_odd_options_and_sums_to_the_grant() -> None:
    terms = VestingTerms(start=date(2024, 1, 1), total_months=3, cliff_months=0)
    schedule = time_schedule(100, terms)
    assert [q for _, q in schedule] == [33, 66, 100]
    amounts = [q for _, q in schedule]
    tranches = [b - a for a, b in zip([0, *amounts], amounts, strict=False)]
    assert tranches == [33, 33, 34]


def test_quarterly_steps_vest_only_on_step_dates() -> None:
    terms = VestingTerms(start=date(2024, 1, 1), total_months=24, cliff_months=6, frequency_months=3)
    assert time_vested(800, terms, date(2024, 6, 30)) == 0
    assert time_vested(800, terms, date(2024, 7, 1)) == 200
    assert time_vested(800, terms, date(2024, 9, 30)) == 200
    assert time_vested(800, terms, date(2024, 10, 1)) == 300


def test_milestone_options_vest_when_achieved_and_time_vests_the_rest() -> None:
    terms = VestingTerms(start=date(2024, 1, 1), total_months=12, cliff_months=0, milestones={"first sale": 200})
    achieved = {"first sale": date(2024, 3, 15)}
    assert vested(1200, terms, date(2024, 3, 14), achieved) == 166  # 1000 * 2 // 12
    assert vested(1200, terms, date(2024, 3, 15), achieved) == 366
    assert vested(1200, terms, date(2025, 1, 1), {}) == 1000


def test_acceleration_vests_everything_from_its_date() -> None:
    assert vested(4800, FOUR_YEARS, date(2024, 6, 1), accelerated_on=date(2024, 6, 1)) == 4800
    assert vested(4800, FOUR_YEARS, date(2024, 5, 31), accelerated_on=date(2024, 6, 1)) == 0


@pytest.mark.parametrize(
    ("terms", "quantity"),
    [
        (VestingTerms(start=date(2024, 1, 1), total_months=10, frequency_months=3), 100),
        (VestingTerms(start=date(2024, 1, 1), cliff_months=60), 100),
        (VestingTerms(start=date(2024, 1, 1), milestones={"x": 101}), 100),
        (VestingTerms(start=date(2024, 1, 1), acceleration="triple"), 100),
        (VestingTerms(start=date(2024, 1, 1)), 0),
    ],
)
def test_inconsistent_terms_are_refused(terms: VestingTerms, quantity: int) -> None:
    with pytest.raises(DomainError):
        terms.check(quantity)


@given(
    quantity=st.integers(1, 10**7),
    steps=st.integers(1, 60),
    frequency=st.sampled_from([1, 3, 6, 12]),
    cliff_steps=st.integers(0, 60),
    start=st.dates(date(2000, 1, 1), date(2060, 12, 31)),
)
def test_time_vesting_rises_stepwise_and_ends_at_the_grant(
    quantity: int, steps: int, frequency: int, cliff_steps: int, start: date
) -> None:
    terms = VestingTerms(start, steps * frequency, min(cliff_steps, steps) * frequency, frequency)
    schedule = time_schedule(quantity, terms)
    amounts = [q for _, q in schedule]
    assert amounts == sorted(amounts)
    assert amounts[-1] == quantity
    assert time_vested(quantity, terms, add_months(start, steps * frequency)) == quantity
    tranches = [b - a for a, b in zip([0, *amounts], amounts, strict=False)]
    assert sum(tranches) == quantity
    # after the cliff, steps differ by at most one option
    later = tranches[1:]
    assert not later or max(later) - min(later) <= 1
