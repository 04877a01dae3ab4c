"""Royalty due, as pure functions over royalty reports and terms.

Rules (each checkable by hand):
- Tiers are marginal: each tier's rate applies to the part of cumulative net sales
  (per currency, over the life of the license) that falls inside that tier.
- Currencies are kept apart: each has its own cumulative sales and its own schedule.
- Rounding: the exact cumulative royalty is rounded half up to the minor unit; a
  report's royalty is the rounded cumulative after it minus the rounded cumulative
  before it, so rounding never accumulates over reports.
- Reports count in period order; a royalty year is a license year (from the term's
  start). A report whose period straddles license years counts in each by the days of
  its period inside it: its royalty is split in proportion to those days, exactly, by
  largest remainder (the odd minor unit to the larger remainder, on a tie to the earlier
  year), so the parts sum to the report's royalty.
- Minimum annual royalty: after a license year ends, the shortfall of that year's
  royalty (in the minimum's currency) below the minimum is due, less true-ups
  already charged for that year (so a re-run after a corrected report settles the
  difference, up or down).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from commercialization.domain.terms import Tier
from ipshare_kernel.money import BASIS_POINTS, allocate


def accrued_royalty(cumulative_sales: int, tiers: Sequence[Tier]) -> Fraction:
    """Exact royalty on cumulative net sales from 0 up to `cumulative_sales` under marginal tiers."""
    total = Fraction(0)
    for i, tier in enumerate(tiers):
        upper = tiers[i + 1].threshold if i + 1 < len(tiers) else None
        top = cumulative_sales if upper is None else min(cumulative_sales, upper)
        if top > tier.threshold:
            total += Fraction((top - tier.threshold) * tier.rate_bps, BASIS_POINTS)
    return total


def marginal_royalty(sales_before: int, net_sales: int, tiers: Sequence[Tier]) -> Fraction:
    """Exact royalty on `net_sales` that move cumulative sales up from `sales_before`."""
    return accrued_royalty(sales_before + net_sales, tiers) - accrued_royalty(sales_before, tiers)


def round_half_up(value: Fraction) -> int:
    """To the nearest integer; halves away from zero."""
    sign = -1 if value < 0 else 1
    return sign * int((abs(value) * 2 + 1) // 2)


@dataclass(frozen=True, slots=True)
class ReportSales:
    """One report's net sales per currency, with the schedule in force for its period."""

    report_id: uuid.UUID
    period_end: date
    net_sales: Mapping[str, int]
    schedules: Mapping[str, Sequence[Tier]]
    period_start: date | None = None  # None: a one-day period (on `period_end`)


@dataclass(frozen=True, slots=True)
class ReportRoyalty:
    report_id: uuid.UUID
    period_end: date
    currency: str
    sales_before: int
    net_sales: int
    royalty: int
    period_start: date | None = None  # None: a one-day period (on `period_end`)

    @property
    def first_day(self) -> date:
        return self.period_end if self.period_start is None else self.period_start


@dataclass(frozen=True, slots=True)
class TierPart:
    """The part of a report's net sales that falls inside one tier, and its exact royalty."""

    threshold: int
    rate_bps: int
    net_sales: int
    royalty: Fraction  # minor units, exact (at most four decimals: rates are in basis points)


def tier_parts(sales_before: int, net_sales: int, tiers: Sequence[Tier]) -> list[TierPart]:
    """How `net_sales` on top of `sales_before` spread over the marginal tiers; the parts' sales
    sum to `net_sales` and their royalties to `marginal_royalty(sales_before, net_sales, tiers)`."""
    low, high = sorted((sales_before, sales_before + net_sales))
    sign = 1 if net_sales >= 0 else -1
    parts = []
    for i, tier in enumerate(tiers):
        upper = tiers[i + 1].threshold if i + 1 < len(tiers) else None
        bottom, top = max(low, tier.threshold), high if upper is None else min(high, upper)
        if top > bottom:
            amount = sign * (top - bottom)
            parts.append(
                TierPart(tier.threshold, tier.rate_bps, amount, Fraction(amount * tier.rate_bps, BASIS_POINTS))
            )
    return parts


def royalties(reports: Sequence[ReportSales]) -> list[ReportRoyalty]:
    """Royalty per report and currency, reports taken in the given (period) order."""
    sales: dict[str, int] = {}
    exact: dict[str, Fraction] = {}
    rounded: dict[str, int] = {}
    result: list[ReportRoyalty] = []
    for report in reports:
        for currency, net in sorted(report.net_sales.items()):
            tiers = report.schedules.get(currency, ())
            before = sales.get(currency, 0)
            exact[currency] = exact.get(currency, Fraction(0)) + marginal_royalty(before, net, tiers)
            sales[currency] = before + net
            now = round_half_up(exact[currency])
            result.append(
                ReportRoyalty(
                    report.report_id, report.period_end, currency, before, net, now - rounded.get(currency, 0),
                    report.period_start,
                )
            )  # fmt: skip
            rounded[currency] = now
    return result


def total_by_currency(lines: Sequence[ReportRoyalty]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.currency] = totals.get(line.currency, 0) + line.royalty
    return totals


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def license_year_bounds(term_start: date, year: int) -> tuple[date, date]:
    """First and last day (inclusive) of license year `year` (1-based)."""
    if year < 1:
        raise ValueError("license years count from 1")
    return add_years(term_start, year - 1), add_years(term_start, year) - timedelta(days=1)


def license_year_of(term_start: date, day: date) -> int:
    if day < term_start:
        raise ValueError("the day lies before the term starts")
    year = day.year - term_start.year + 1
    while add_years(term_start, year - 1) > day:
        year -= 1
    while add_years(term_start, year) <= day:
        year += 1
    return year


def days_in_license_years(term_start: date, first: date, last: date) -> dict[int, int]:
    """License year -> how many days of `first`..`last` (inclusive) fall in it."""
    days: dict[int, int] = {}
    day = first
    while day <= last:
        year = license_year_of(term_start, day)
        year_end = license_year_bounds(term_start, year)[1]
        upto = min(year_end, last)
        days[year] = (upto - day).days + 1
        day = upto + timedelta(days=1)
    return days


def royalty_by_license_year(line: ReportRoyalty, term_start: date) -> dict[int, int]:
    """A report's royalty split across the license years its period covers, by days (exact)."""
    days = days_in_license_years(term_start, line.first_day, line.period_end)
    if len(days) == 1:
        return {next(iter(days)): line.royalty}
    return allocate(line.royalty, days)


def royalty_in_year(lines: Sequence[ReportRoyalty], term_start: date, year: int, currency: str) -> int:
    return sum(royalty_by_license_year(line, term_start).get(year, 0) for line in lines if line.currency == currency)


def minimum_true_up(minimum: int, royalty_for_year: int, already_charged: int) -> int:
    """What is still due (or, negative, to credit) to bring the year's royalty up to the minimum."""
    return max(0, minimum - royalty_for_year) - already_charged
