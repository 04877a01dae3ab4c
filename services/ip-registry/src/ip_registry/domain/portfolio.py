"""The figures a center reports each year about a portfolio: a pure function of asset states."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from ip_registry.domain.lifecycle import AssetStatus


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
class PortfolioFigures:
    """Counts by (year, kind). `active` counts assets live at the end of each year."""

    disclosures: dict[YearKind, int] = field(default_factory=dict)
    filings: dict[YearKind, int] = field(default_factory=dict)
    grants: dict[YearKind, int] = field(default_factory=dict)
    active: dict[YearKind, int] = field(default_factory=dict)

    def years(self) -> list[int]:
        keys = [*self.disclosures, *self.filings, *self.grants, *self.active]
        return sorted({year for year, _ in keys})


def _live_at_end_of(asset: AssetFacts, year: int) -> bool:
    year_end = date(year, 12, 31)
    started = asset.disclosure_date or asset.filing_date or asset.registered_on
    return started <= year_end and (asset.ended_on is None or asset.ended_on > year_end)


def portfolio_figures(assets: Iterable[AssetFacts], until_year: int) -> PortfolioFigures:
    """Disclosures, filings and grants by the year they happened; active assets at each year end.

    A disclosure is dated by its disclosure date, or else the filing date, or else the day it
    was registered. Years run from the first event up to `until_year`.
    """
    disclosures: Counter[YearKind] = Counter()
    filings: Counter[YearKind] = Counter()
    grants: Counter[YearKind] = Counter()
    facts = list(assets)
    for asset in facts:
        kind = str(asset.kind)
        disclosed = asset.disclosure_date or asset.filing_date or asset.registered_on
        disclosures[(disclosed.year, kind)] += 1
        if asset.filing_date is not None:
            filings[(asset.filing_date.year, kind)] += 1
        if asset.grant_date is not None:
            grants[(asset.grant_date.year, kind)] += 1
    active: Counter[YearKind] = Counter()
    first_year = min((year for year, _ in disclosures), default=until_year + 1)
    for year in range(first_year, until_year + 1):
        for asset in facts:
            if _live_at_end_of(asset, year):
                active[(year, str(asset.kind))] += 1
    return PortfolioFigures(dict(disclosures), dict(filings), dict(grants), dict(active))
