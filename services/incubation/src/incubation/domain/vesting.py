"""Vesting of option grants: a pure function of the terms and a date.

Rounding rule (cumulative): after step k of n, `quantity * k // n` options have
vested. Each tranche is the difference of two such figures, so the tranches sum to
the grant exactly and no tranche differs from another by more than one option.

Month arithmetic clamps to the month's end: Jan 31 + 1 month is Feb 28 (Feb 29 in a
leap year), and Feb 29 + 12 months is Feb 28.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from ipshare_kernel.errors import DomainError

# What accelerates unvested options: nothing, a change of control, or that and a departure without cause.
ACCELERATIONS = ("none", "single", "double")


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(start: date, end: date) -> int:
    """Whole months from `start` to `end` (0 when `end` is before the first monthly anniversary)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    while months > 0 and add_months(start, months) > end:
        months -= 1
    return max(months, 0)


@dataclass(frozen=True, slots=True)
class VestingTerms:
    """Time-based vesting of `quantity - sum(milestones)` plus options that vest on named milestones.

    `acceleration` is `none`, `single` (everything vests on a change of control) or
    `double` (on a change of control followed by a departure without cause).
    """

    start: date
    total_months: int = 48
    cliff_months: int = 12
    frequency_months: int = 1
    milestones: Mapping[str, int] = field(default_factory=dict)  # milestone name -> options
    acceleration: str = "none"

    def check(self, quantity: int) -> None:
        if quantity <= 0:
            raise DomainError("an option grant is for a positive quantity", quantity=quantity)
        if not 0 < self.frequency_months <= self.total_months:
            raise DomainError("vesting runs in steps of 1..total months", frequency_months=self.frequency_months)
        if self.total_months % self.frequency_months:
            raise DomainError("the vesting length must be a whole number of steps", total_months=self.total_months)
        if not 0 <= self.cliff_months <= self.total_months:
            raise DomainError("the cliff lies within the vesting length", cliff_months=self.cliff_months)
        if any(q <= 0 for q in self.milestones.values()) or sum(self.milestones.values()) > quantity:
            raise DomainError("milestone tranches are positive and at most the grant", milestones=dict(self.milestones))
        if self.acceleration not in ACCELERATIONS:
            raise DomainError("acceleration is none, single or double", acceleration=self.acceleration)


def time_vested(quantity: int, terms: VestingTerms, as_of: date) -> int:
    """Options vested by time alone on `as_of` (cumulative rounding, nothing before the cliff)."""
    months = months_between(terms.start, as_of) if as_of >= terms.start else 0
    if months < terms.cliff_months or months == 0:
        return 0
    steps = terms.total_months // terms.frequency_months
    done = min(months // terms.frequency_months, steps)
    return quantity * done // steps


def vested(
    quantity: int,
    terms: VestingTerms,
    as_of: date,
    achieved: Mapping[str, date] | None = None,
    accelerated_on: date | None = None,
) -> int:
    """Everything vested on `as_of`: by time, by milestones achieved by then, or all after acceleration."""
    if accelerated_on is not None and accelerated_on <= as_of:
        return quantity
    by_milestone = sum(q for name, q in terms.milestones.items() if (achieved or {}).get(name, date.max) <= as_of)
    return time_vested(quantity - sum(terms.milestones.values()), terms, as_of) + by_milestone


def time_schedule(quantity: int, terms: VestingTerms) -> list[tuple[date, int]]:
    """Each vesting date of the time-based part and the options vested by then (cumulative)."""
    time_based = quantity - sum(terms.milestones.values())
    steps = terms.total_months // terms.frequency_months
    schedule: list[tuple[date, int]] = []
    for step in range(1, steps + 1):
        months = step * terms.frequency_months
        if months < terms.cliff_months:
            continue
        day = add_months(terms.start, months)
        schedule.append((day, time_vested(time_based, terms, day)))
    return schedule
