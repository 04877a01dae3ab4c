"""Royalty tables a reader can check by hand (amounts in minor units: 100 = 1.00)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commercialization.domain.royalty import (
    ReportRoyalty,
    ReportSales,
    accrued_royalty,
    days_in_license_years,
    license_year_bounds,
    license_year_of,
    marginal_royalty,
    minimum_true_up,
    round_half_up,
    royalties,
    royalty_by_license_year,
    royalty_in_year,
    tier_parts,
)
from commercialization.domain.terms import Tier

# 5% up to 10,000.00 of cumulative sales, 3% up to 50,000.00, 1% above.
TIERS = (Tier(0, 500), Tier(1_000_000, 300), Tier(5_000_000, 100))


def reports(*net_sales: dict[str, int], schedules: Mapping[str, tuple[Tier, ...]] | None = None) -> list[ReportSales]:
    return [
        ReportSales(uuid.UUID(int=i), date(2024 + i, 1, 31), sales, schedules or {"USD": TIERS})
        for i, sales in enumerate(net_sales)
    ]


def due(*net_sales: dict[str, int], schedules: Mapping[str, tuple[Tier, ...]] | None = None) -> list[tuple[str, int]]:
    return [(line.currency, line.royalty) for line in royalties(reports(*net_sales, schedules=schedules))]


@pytest.mark.parametrize(
    ("net_sales", "expected"),
    [
        # within the first tier: 8,000.00 x 5% = 400.00
        ([800_000], [40_000]),
        # the second report crosses 10,000.00: 2,000.00 x 5% + 2,000.00 x 3% = 100.00 + 60.00
        ([800_000, 400_000], [40_000, 16_000]),
        # one report crosses two tiers: 10,000 x 5% + 40,000 x 3% + 10,000 x 1% = 500 + 1,200 + 100
        ([6_000_000], [180_000]),
        # exactly at a threshold, then above it
        ([1_000_000, 100_000], [50_000, 3_000]),
        # a zero-sales period owes nothing and moves no tier
        ([0, 800_000], [0, 40_000]),
    ],
)
def test_marginal_tiers(net_sales: list[int], expected: list[int]) -> None:
    assert due(*({"USD": n} for n in net_sales)) == [("USD", e) for e in expected]


def test_rounding_is_on_the_cumulative_so_nothing_drifts() -> None:
    # 3.33% of 1.00 three times: exact 3.33, 6.66, 9.99 -> rounded cumulative 3, 7, 10.
    schedules = {"USD": (Tier(0, 333),)}
    assert due({"USD": 100}, {"USD": 100}, {"USD": 100}, schedules=schedules) == [("USD", 3), ("USD", 4), ("USD", 3)]


def test_halves_round_up() -> None:
    # 0.5% of 1.00 = 0.5 -> 1; the next 1.00 brings the exact total to 1.0 -> 0 more.
    schedules = {"USD": (Tier(0, 50),)}
    assert due({"USD": 100}, {"USD": 100}, schedules=schedules) == [("USD", 1), ("USD", 0)]
    assert [round_half_up(Fraction(n, 2)) for n in (-3, -1, 1, 3)] == [-2, -1, 1, 2]


def test_currencies_are_kept_apart() -> None:
    schedules = {"USD": (Tier(0, 500), Tier(1_000, 300)), "EUR": (Tier(0, 400),)}
    assert due({"USD": 800, "EUR": 1_000}, {"USD": 400, "EUR": 500}, schedules=schedules) == [
        ("EUR", 40),
        ("USD", 40),
        ("EUR", 20),
        ("USD", 16),  # 200 x 5% + 200 x 3%: the USD tier is crossed by USD sales alone
    ]


def test_an_explicit_no_sales_report_has_no_lines() -> None:
    assert due({}, {"USD": 800_000}) == [("USD", 40_000)]


@given(st.lists(st.integers(min_value=0, max_value=3_000_000), max_size=12))
def test_report_royalties_sum_to_the_rounded_cumulative(net_sales: list[int]) -> None:
    lines = royalties(reports(*({"USD": n} for n in net_sales)))
    assert sum(line.royalty for line in lines) == round_half_up(accrued_royalty(sum(net_sales), TIERS))
    assert all(line.royalty >= 0 for line in lines)


@pytest.mark.parametrize(
    ("start", "year", "first", "last"),
    [
        (date(2024, 1, 1), 1, date(2024, 1, 1), date(2024, 12, 31)),
        (date(2024, 7, 1), 2, date(2025, 7, 1), date(2026, 6, 30)),
        (date(2024, 2, 29), 1, date(2024, 2, 29), date(2025, 2, 27)),
        (date(2024, 2, 29), 2, date(2025, 2, 28), date(2026, 2, 27)),
    ],
)
def test_license_years(start: date, year: int, first: date, last: date) -> None:
    assert license_year_bounds(start, year) == (first, last)
    assert license_year_of(start, first) == year
    assert license_year_of(start, last) == year


@pytest.mark.parametrize(
    ("minimum", "royalty", "charged", "expected"),
    [
        (1_000_000, 600_000, 0, 400_000),  # shortfall invoiced
        (1_000_000, 1_200_000, 0, 0),  # royalty above the minimum: nothing
        (1_000_000, 700_000, 400_000, -100_000),  # a corrected report raised the royalty: credit
        (1_000_000, 500_000, 400_000, 100_000),  # a corrected report lowered it: invoice the rest
        (0, 0, 0, 0),  # no minimum agreed
    ],
)
def test_minimum_true_up(minimum: int, royalty: int, charged: int, expected: int) -> None:
    assert minimum_true_up(minimum, royalty, charged) == expected


def test_a_report_crossing_two_tiers_shows_each_tiers_sales_and_royalty() -> None:
    # 2,000.00 already sold; 50,000.00 more: 8,000 x 5%, 40,000 x 3%, 2,000 x 1%
    parts = tier_parts(200_000, 5_000_000, TIERS)
    assert [(p.threshold, p.rate_bps, p.net_sales, p.royalty) for p in parts] == [
        (0, 500, 800_000, 40_000),
        (1_000_000, 300, 4_000_000, 120_000),
        (5_000_000, 100, 200_000, 2_000),
    ]


@given(st.integers(min_value=0, max_value=10_000_000), st.integers(min_value=0, max_value=10_000_000))
def test_tier_parts_sum_to_the_reports_sales_and_exact_royalty(before: int, net: int) -> None:
    parts = tier_parts(before, net, TIERS)
    assert sum(p.net_sales for p in parts) == net
    assert sum(p.royalty for p in parts) == marginal_royalty(before, net, TIERS)


def _line(royalty: int, first: date, last: date) -> ReportRoyalty:
    return ReportRoyalty(uuid.UUID(int=1), last, "CNY", 0, 0, royalty, first)


def test_a_report_straddling_license_years_is_apportioned_by_days() -> None:
    # Term from 1 July: November to January is 61 days in year 1 and 31 in year 2.
    term = date(2024, 7, 1)
    line = _line(9_200, date(2024, 11, 1), date(2025, 1, 31))
    assert days_in_license_years(term, line.first_day, line.period_end) == {1: 92}
    line = _line(9_200, date(2025, 5, 1), date(2025, 7, 31))  # 61 days before 1 July 2025, 31 after
    assert royalty_by_license_year(line, term) == {1: 6_100, 2: 3_100}
    # A one-day report lies in one year; apportioned parts add up per year.
    assert royalty_by_license_year(_line(100, date(2025, 6, 30), date(2025, 6, 30)), term) == {1: 100}
    assert royalty_in_year([line, _line(7, date(2024, 8, 1), date(2024, 8, 31))], term, 1, "CNY") == 6_107


@given(
    st.integers(min_value=0, max_value=10**9),
    st.dates(min_value=date(2024, 2, 29), max_value=date(2030, 12, 31)),
    st.integers(min_value=0, max_value=1_500),
)
def test_the_yearly_parts_of_a_reports_royalty_sum_to_it(royalty: int, first: date, length: int) -> None:
    term = date(2024, 2, 29)
    line = _line(royalty, first, first + timedelta(days=length))
    parts = royalty_by_license_year(line, term)
    assert sum(parts.values()) == royalty
    days = days_in_license_years(term, line.first_day, line.period_end)
    assert (sum(days.values()), set(parts)) == (length + 1, set(days))
