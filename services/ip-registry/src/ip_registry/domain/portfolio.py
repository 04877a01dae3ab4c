"""The figures a center reports each year about a portfolio: a pure function of asset states."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from ip_registry.domain.lifecycle import AssetStatus
from ip_registry.domain.ownership import OwnershipPeriod, ownership_as_of


class AssetFacts(Protocol):
    """What the figures need of an asset (an `Asset` aggregate has all of it)."""

    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> AssetStatus: ...
    @property
    def registered_on(self) -> date: ...
    @property
    def disclosure_date(self) -> date | None: ...
    @property
    def filing_date(self) -> date | None: ...
    @property
    def grant_date(self) -> date | None: ...
    @property
    def ended_on(self) -> date | None: ...


YearKind = tuple[int, str]


@dataclass(frozen=True, slots=True)
class Counts:
    disclosures: int = 0
    filings: int = 0
    grants: int = 0
    active: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.disclosures + other.disclosures,
            self.filings + other.filings,
            self.grants + other.grants,
            self.active + other.active,
        )


@dataclass(frozen=True, slots=True)
class YearFigures:
    year: int
    by_kind: dict[str, Counts]  # kinds with at least one non-zero figure that year, by name

    @property
    def total(self) -> Counts:
        return sum(self.by_kind.values(), Counts())


@dataclass(frozen=True, slots=True)
class PortfolioFigures:
    """Counts by (year, kind). `active` counts assets live at the end of each year."""

    disclosures: dict[YearKind, int] = field(default_factory=dict)
    filings: dict[YearKind, int] = field(default_factory=dict)
    grants: dict[YearKind, int] = field(default_factory=dict)
    active: dict[YearKind, int] = field(default_factory=dict)

    def years(self) -> list[int]:
        keys = [*self.disclosures, *self.filings, *self.grants, *self.active]
        return sorted({year for year, _ in keys})

    def by_year(self) -> list[YearFigures]:
        """One entry per year with any figure, oldest first; kinds in alphabetical order."""
        keys = {*self.disclosures, *self.filings, *self.grants, *self.active}
        return [
            YearFigures(
                year,
                {
                    kind: Counts(
                        self.disclosures.get((year, kind), 0),
                        self.filings.get((year, kind), 0),
                        self.grants.get((year, kind), 0),
                        self.active.get((year, kind), 0),
                    )
                    for kind in sorted(k for y, k in keys if y == year)
                },
            )
            for year in self.years()
        ]


def _started(asset: AssetFacts) -> date:
    return asset.disclosure_date or asset.filing_date or asset.registered_on


def _live_on(asset: AssetFacts, day: date) -> bool:
    return _started(asset) <= day and (asset.ended_on is None or asset.ended_on > day)


def portfolio_figures(assets: Iterable[AssetFacts], as_of: date) -> PortfolioFigures:
    """Disclosures, filings and grants by the year they happened; active assets at each year end.

    Only what happened on or before `as_of` counts. A disclosure is dated by its disclosure
    date, or else the filing date, or else the day it was registered. Years run from the
    first disclosure up to the year of `as_of`, whose active assets are those live on `as_of`.
    """
    disclosures: Counter[YearKind] = Counter()
    filings: Counter[YearKind] = Counter()
    grants: Counter[YearKind] = Counter()
    facts = [asset for asset in assets if _started(asset) <= as_of]
    for asset in facts:
        kind = str(asset.kind)
        disclosures[(_started(asset).year, kind)] += 1
        if asset.filing_date is not None and asset.filing_date <= as_of:
            filings[(asset.filing_date.year, kind)] += 1
        if asset.grant_date is not None and asset.grant_date <= as_of:
            grants[(asset.grant_date.year, kind)] += 1
    active: Counter[YearKind] = Counter()
    first_year = min((year for year, _ in disclosures), default=as_of.year + 1)
    for year in range(first_year, as_of.year + 1):
        day = min(date(year, 12, 31), as_of)
        for asset in facts:
            if _live_on(asset, day):
                active[(year, str(asset.kind))] += 1
    return PortfolioFigures(dict(disclosures), dict(filings), dict(grants), dict(active))


def holders_on(history: Sequence[OwnershipPeriod], day: date) -> set[uuid.UUID]:
    """The members an asset counts for on `day`: its owners then; before its ownership took
    effect (an imported disclosure takes effect on the day of the import), the owners it first
    took effect for. An asset whose ownership never took effect counts for no one."""
    if not history:
        return set()
    if day < history[0].effective_from:
        return set(history[0].shares)
    return set(ownership_as_of(history, day))
