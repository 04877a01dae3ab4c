"""Who owned an asset when: a fold over the IP registry's ownership history.

The registry keeps each asset's ownership as a sequence of changes by effective date
(registration, transfers, an assignment out of the membership), each holding until the
next one; a change may be backdated, but never before the last one. Commercialization
learns the same changes from the registry's topic and answers from them with these
pure functions. Where two changes share a day, the later one recorded wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class OwnershipPeriod:
    """From `effective_from` (until the next period) these members held these shares, in basis
    points; no owners at all after the asset was assigned out of the membership."""

    effective_from: date
    owners: Mapping[uuid.UUID, int] = field(default_factory=dict)
    cause: str = ""  # registration | transfer | assignment


def _in_order(history: Iterable[OwnershipPeriod]) -> list[OwnershipPeriod]:
    """By effective date; a stable sort keeps the recording order within a day."""
    return sorted(history, key=lambda period: period.effective_from)


def owners_as_of(history: Iterable[OwnershipPeriod], day: date) -> dict[uuid.UUID, int]:
    """The shares in force on `day`: empty before ownership took effect, or after an assignment out."""
    current: Mapping[uuid.UUID, int] = {}
    for period in _in_order(history):
        if period.effective_from > day:
            break
        current = period.owners
    return dict(current)


def owners_during(history: Iterable[OwnershipPeriod], start: date, end: date) -> set[uuid.UUID]:
    """Every member that held a share on at least one day from `start` to `end` (inclusive)."""
    if end < start:
        return set()
    periods = _in_order(history)
    found: set[uuid.UUID] = set()
    for n, period in enumerate(periods):
        following = periods[n + 1].effective_from if n + 1 < len(periods) else None
        if following is not None and following <= period.effective_from:
            continue  # replaced on its own day: it never held
        # A period holds from its date until the day before the next one.
        if period.effective_from <= end and (following is None or following > start):
            found.update(member for member, share in period.owners.items() if share > 0)
    return found
