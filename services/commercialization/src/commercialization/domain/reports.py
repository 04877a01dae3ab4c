"""Royalty reports of one license, and the royalty they make due.

The ledger keeps every report; a corrected report supersedes an earlier one by an
event. After each report the ledger recomputes the royalty due over all reports in
force (see `royalty.py`) and books the difference from what it booked before, per
currency: positive is invoiced, negative credited. A corrected report for an early
period can shift later reports across tiers; the difference absorbs that too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from commercialization.domain.license import NAMESPACE, License, LicenseStatus
from commercialization.domain.royalty import (
    ReportRoyalty,
    ReportSales,
    TierPart,
    license_year_bounds,
    minimum_true_up,
    royalties,
    royalty_in_year,
    tier_parts,
    total_by_currency,
)
from commercialization.domain.scope import field_covers, iso_countries, normalize_field, territory_covers
from commercialization.domain.snapshots import EncodedSnapshot
from ipshare_kernel.errors import Conflict, DomainError
from ipshare_kernel.money import Money


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One product in one country: gross sales less allowed deductions gives net sales."""

    product: str
    country: str
    currency: str
    gross_sales: int
    deductions: int = 0
    field_of_use: str = ""  # empty: the license's own field

    @property
    def net_sales(self) -> int:
        return self.gross_sales - self.deductions

    def as_event_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "country": self.country,
            "field_of_use": self.field_of_use,
            "gross_sales": {"amount": self.gross_sales, "currency": self.currency},
            "deductions": {"amount": self.deductions, "currency": self.currency},
            "net_sales": {"amount": self.net_sales, "currency": self.currency},
        }

    @classmethod
    def from_event_dict(cls, data: Mapping[str, Any]) -> ReportLine:
        return cls(
            product=data["product"],
            country=data["country"],
            currency=data["gross_sales"]["currency"],
            gross_sales=data["gross_sales"]["amount"],
            deductions=data["deductions"]["amount"],
            field_of_use=data["field_of_use"],
        )


@dataclass(frozen=True, slots=True)
class Report:
    report_id: uuid.UUID
    period_start: date
    period_end: date
    lines: tuple[ReportLine, ...]
    supersedes: uuid.UUID | None
    sequence: int
    booked: tuple[tuple[str, int], ...] = ()  # (currency, change in royalty due) its submission booked

    def net_sales(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.currency] = totals.get(line.currency, 0) + line.net_sales
        return totals

    def overlaps(self, start: date, end: date) -> bool:
        return self.period_start <= end and start <= self.period_end


@dataclass(frozen=True, slots=True)
class CurrencyRoyalty:
    """A report's royalty in one currency, as computed now over the reports in force."""

    currency: str
    sales_before: int  # cumulative net sales of the earlier reports in force
    net_sales: int
    royalty: int
    tiers: tuple[TierPart, ...]


def _money_list(amounts: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"amount": a, "currency": c} for c, a in sorted(amounts.items()) if a]


def _encode_report(report: Report) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "period_start": report.period_start,
        "period_end": report.period_end,
        "lines": [line.as_event_dict() for line in report.lines],
        "supersedes": report.supersedes,
        "sequence": report.sequence,
        "booked": [list(pair) for pair in report.booked],
    }


def _decode_report(data: Mapping[str, Any]) -> Report:
    return Report(
        data["report_id"], data["period_start"], data["period_end"],
        tuple(ReportLine.from_event_dict(line) for line in data["lines"]), data["supersedes"], data["sequence"],
        tuple((currency, amount) for currency, amount in data["booked"]),
    )  # fmt: skip


def _sales_of(license: License, reports: Sequence[Report]) -> list[ReportSales]:
    """The reports' net sales, each with the schedules in force at its period's start."""
    return [
        ReportSales(
            r.report_id, r.period_end, r.net_sales(), license.terms_on(r.period_start).running_royalty, r.period_start
        )
        for r in reports
    ]


def check_lines(license: License, period_start: date, lines: Sequence[ReportLine]) -> None:
    """Each line must lie in the licensed territory and field, in an agreed currency."""
    terms = license.terms_on(period_start)
    for row, line in enumerate(lines, start=1):
        where = {"line": row, "product": line.product}
        if not line.product.strip():
            raise DomainError("a report line names its product", **where)
        if line.country.strip().upper() not in iso_countries():
            raise DomainError(f"not an ISO 3166-1 alpha-2 country code: {line.country}", country=line.country, **where)
        if not territory_covers(license.territory, line.country.upper()):
            raise DomainError("sales outside the licensed territory", country=line.country, **where)
        field_of_use = normalize_field(line.field_of_use) if line.field_of_use.strip() else license.field_of_use
        if not field_covers(license.field_of_use, license.fields, field_of_use):
            raise DomainError("sales outside the licensed field of use", field_of_use=field_of_use, **where)
        if line.currency not in terms.running_royalty:
            raise DomainError(
                "no running royalty is agreed in this currency",
                currency=line.currency,
                agreed=sorted(terms.running_royalty),
                **where,
            )
        if line.gross_sales < 0 or not 0 <= line.deductions <= line.gross_sales:
            raise DomainError("gross sales and deductions are non-negative, deductions at most gross", **where)


class RoyaltyLedger(Aggregate):
    Snapshot = EncodedSnapshot  # a ledger lives as long as its license: `SNAPSHOT_INTERVAL` snapshots it

    class Opened(Aggregate.Created):
        license_id: uuid.UUID

    class ReportSubmitted(Aggregate.Event):
        license_id: uuid.UUID
        report_id: uuid.UUID
        period_start: date
        period_end: date
        no_sales: bool
        lines: list[dict[str, Any]]
        supersedes: str  # the corrected report's id, or empty
        submitted_by: str
        royalty_due: list[dict[str, Any]]  # change in royalty due per currency (negative: credit)
        effective_date: date

    class MinimumTrueUpAssessed(Aggregate.Event):
        license_id: uuid.UUID
        license_year: int
        year_start: date
        year_end: date
        minimum: dict[str, Any]
        royalty: dict[str, Any]
        true_up: dict[str, Any]  # change in the true-up for that year (negative: credit)
        effective_date: date

    @staticmethod
    def create_id(license_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"royalty-ledger/{license_id}")

    @event(Opened)
    def __init__(self, license_id: uuid.UUID) -> None:
        self.license_id = license_id
        self.reports: dict[uuid.UUID, Report] = {}
        self.superseded: set[uuid.UUID] = set()
        self.booked: dict[str, int] = {}  # royalty booked so far per currency
        self.true_ups: dict[int, int] = {}  # true-up booked per license year

    @classmethod
    def encode_snapshot(cls, state: dict[str, Any]) -> dict[str, Any]:
        """The ledger's state as plain JSON values (see `snapshots.py`)."""
        return {
            **state,
            "reports": [_encode_report(r) for r in state["reports"].values()],
            "superseded": sorted(state["superseded"], key=str),
            "true_ups": [[year, amount] for year, amount in sorted(state["true_ups"].items())],
        }

    @classmethod
    def decode_snapshot(cls, state: dict[str, Any]) -> dict[str, Any]:
        reports = [_decode_report(r) for r in state["reports"]]
        return {
            **state,
            "reports": {r.report_id: r for r in reports},
            "superseded": set(state["superseded"]),
            "true_ups": {year: amount for year, amount in state["true_ups"]},
        }

    # -- queries ----------------------------------------------------------------

    def in_force(self) -> list[Report]:
        """Reports not superseded, in period order."""
        current = [r for r in self.reports.values() if r.report_id not in self.superseded]
        return sorted(current, key=lambda r: (r.period_start, r.sequence))

    def royalty_lines(self, license: License) -> list[ReportRoyalty]:
        return royalties(_sales_of(license, self.in_force()))

    def royalty_by_report(self, license: License) -> dict[uuid.UUID, list[CurrencyRoyalty]]:
        """Each report in force: its royalty per currency and how its sales spread over the tiers."""
        schedules = {r.report_id: license.terms_on(r.period_start).running_royalty for r in self.in_force()}
        found: dict[uuid.UUID, list[CurrencyRoyalty]] = {report_id: [] for report_id in schedules}
        for line in self.royalty_lines(license):
            tiers = schedules[line.report_id].get(line.currency, ())
            parts = tuple(tier_parts(line.sales_before, line.net_sales, tiers))
            found[line.report_id].append(
                CurrencyRoyalty(line.currency, line.sales_before, line.net_sales, line.royalty, parts)
            )
        return found

    # -- commands ---------------------------------------------------------------

    def submit(
        self,
        license: License,
        *,
        report_id: uuid.UUID,
        period_start: date,
        period_end: date,
        lines: Sequence[ReportLine],
        no_sales: bool,
        supersedes: uuid.UUID | None,
        submitted_by: str,
        effective_date: date,
    ) -> dict[str, int]:
        """Record a report; return the change in royalty due per currency."""
        self._check_period(license, period_start, period_end, supersedes)
        if no_sales == bool(lines):
            raise DomainError("a report has sales lines, or says 'no sales' explicitly, not both")
        check_lines(license, period_start, lines)
        if report_id in self.reports:
            raise Conflict("this report id is already used", report_id=str(report_id))
        due = self._due_after(license, Report(report_id, period_start, period_end, tuple(lines), supersedes, 0))
        self._report_submitted(
            license_id=self.license_id,
            report_id=report_id,
            period_start=period_start,
            period_end=period_end,
            no_sales=no_sales,
            lines=[line.as_event_dict() for line in lines],
            supersedes=str(supersedes or ""),
            submitted_by=submitted_by,
            royalty_due=_money_list(due),
            effective_date=effective_date,
        )
        return {c: a for c, a in due.items() if a}

    def assess_minimum(self, license: License, license_year: int, as_of: date) -> Money | None:
        """Book the year-end true-up (or its correction); None when nothing changes."""
        start, end = license_year_bounds(license.start_date, license_year)
        if as_of <= end:
            raise Conflict("the license year has not ended yet", year_end=str(end))
        terms = license.terms_on(start)
        currency = terms.currency
        royalty = royalty_in_year(self.royalty_lines(license), license.start_date, license_year, currency)
        change = minimum_true_up(terms.minimum_annual_royalty, royalty, self.true_ups.get(license_year, 0))
        if change == 0:
            return None
        self._minimum_assessed(
            license_id=self.license_id,
            license_year=license_year,
            year_start=start,
            year_end=end,
            minimum={"amount": terms.minimum_annual_royalty, "currency": currency},
            royalty={"amount": royalty, "currency": currency},
            true_up={"amount": change, "currency": currency},
            effective_date=as_of,
        )
        return Money(change, currency)

    def _check_period(self, license: License, start: date, end: date, supersedes: uuid.UUID | None) -> None:
        if license.status in (LicenseStatus.DRAFT, LicenseStatus.PENDING_CONSENT, LicenseStatus.REFUSED):
            raise Conflict(f"a {license.status} license takes no royalty reports", status=license.status)
        if end < start:
            raise DomainError("the report period ends before it starts")
        if not (license.licensed_on(start) and license.licensed_on(end)):
            raise DomainError(
                "the report period lies outside the license term",
                term_start=str(license.start_date),
                term_end=str(license.last_day),
            )
        if supersedes is not None:
            self._check_corrects(supersedes, start, end)
        clash = [r for r in self.in_force() if r.report_id != supersedes and r.overlaps(start, end)]
        if clash:
            raise Conflict(
                "the period overlaps an earlier report; submit a correction that supersedes it",
                report_id=str(clash[0].report_id),
                period_start=str(clash[0].period_start),
                period_end=str(clash[0].period_end),
            )

    def _check_corrects(self, supersedes: uuid.UUID, start: date, end: date) -> None:
        earlier = self.reports.get(supersedes)
        if earlier is None or supersedes in self.superseded:
            raise Conflict("only a report in force can be corrected", report_id=str(supersedes))
        if (earlier.period_start, earlier.period_end) != (start, end):
            raise DomainError("a correction covers the same period as the report it corrects")

    def _due_after(self, license: License, report: Report) -> dict[str, int]:
        """Royalty due over all reports in force once `report` is added, less what is booked."""
        current = [r for r in self.in_force() if r.report_id != report.supersedes]
        ordered = sorted([*current, report], key=lambda r: (r.period_start, r.sequence or len(self.reports) + 1))
        totals = total_by_currency(royalties(_sales_of(license, ordered)))
        currencies = set(totals) | set(self.booked)
        return {c: totals.get(c, 0) - self.booked.get(c, 0) for c in currencies}

    # -- events -----------------------------------------------------------------

    @event(ReportSubmitted)
    def _report_submitted(
        self,
        license_id: uuid.UUID,
        report_id: uuid.UUID,
        period_start: date,
        period_end: date,
        no_sales: bool,
        lines: list[dict[str, Any]],
        supersedes: str,
        submitted_by: str,
        royalty_due: list[dict[str, Any]],
        effective_date: date,
    ) -> None:
        corrected = uuid.UUID(supersedes) if supersedes else None
        parsed = tuple(ReportLine.from_event_dict(line) for line in lines)
        booked = tuple((money["currency"], money["amount"]) for money in royalty_due)
        self.reports[report_id] = Report(
            report_id, period_start, period_end, parsed, corrected, len(self.reports) + 1, booked
        )
        if corrected is not None:
            self.superseded.add(corrected)
        for money in royalty_due:
            self.booked[money["currency"]] = self.booked.get(money["currency"], 0) + money["amount"]

    @event(MinimumTrueUpAssessed)
    def _minimum_assessed(
        self,
        license_id: uuid.UUID,
        license_year: int,
        year_start: date,
        year_end: date,
        minimum: dict[str, Any],
        royalty: dict[str, Any],
        true_up: dict[str, Any],
        effective_date: date,
    ) -> None:
        self.true_ups[license_year] = self.true_ups.get(license_year, 0) + true_up["amount"]
