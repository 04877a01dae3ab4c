"""Royalties: what a licensee reports (sales, milestones, sublicense income) and what it owes for it.

A royalty report (or its correction) goes on the license's `RoyaltyLedger`, and the change
in royalty due is invoiced (or credited) on the license's account, per currency; a CSV
upload of a report's lines is all or nothing. After a license year, finance trues up the
minimum annual royalty.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from commercialization.application.store import DealStore, money
from commercialization.csv_reports import RowError, parse_report_lines
from commercialization.domain.account import LicenseAccount, RevenueKind
from commercialization.domain.reports import CurrencyRoyalty, Report, ReportLine, RoyaltyLedger, check_lines
from commercialization.domain.royalty import license_year_bounds
from commercialization.domain.terms import RoyaltyTerms
from commercialization.permissions import ensure_finance
from ipshare.eventstore import CommandContext
from ipshare_kernel.errors import DomainError, NotFound
from ipshare_kernel.money import Money, basis_points_of


@dataclass(frozen=True, slots=True)
class Booking:
    """What a report's submission booked in one currency: an invoice, or (negative) a credit note."""

    currency: str
    amount: int
    invoice_id: uuid.UUID | None
    credit_note_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class ReportView:
    """A royalty report with its royalty now (none once superseded) and what its submission booked."""

    report: Report
    superseded: bool
    royalty: list[CurrencyRoyalty]
    booked: list[Booking]


class Royalties(DealStore):
    """The licensee's reports and what they invoice; reads answer members as `member_reads` says."""

    def submit_royalty_report(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        period_start: date,
        period_end: date,
        lines: Sequence[ReportLine] = (),
        *,
        no_sales: bool = False,
        supersedes: uuid.UUID | None = None,
        effective_date: date | None = None,
        report_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Record a report (or a correction) and invoice or credit the change in royalty due."""
        license = self._license(license_id)
        day = effective_date or self.clock.today()
        self._ensure_submits_reports(ctx.principal, license, day)
        ledger = self._ledger(license.id)
        report_id = report_id or uuid.uuid4()
        due = ledger.submit(
            license,
            report_id=report_id,
            period_start=period_start,
            period_end=period_end,
            lines=lines,
            no_sales=no_sales,
            supersedes=supersedes,
            submitted_by=str(ctx.principal),
            effective_date=day,
        )
        account = self._account(license.id, license.asset_ids)
        terms = license.terms_on(period_start)
        for currency, change in sorted(due.items()):
            reference = royalty_reference(report_id, currency)
            corrects = _invoiced_before(ledger, account, supersedes, currency)
            self._book_change(account, RevenueKind.ROYALTY, money(change, currency), day, terms, reference, corrects)
        self._save(ctx, ledger, account)
        return report_id

    def import_royalty_report_csv(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        period_start: date,
        period_end: date,
        csv_text: str,
        *,
        supersedes: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> uuid.UUID:
        """Bulk upload of a report's lines: every row is checked (format, then against the
        license); any bad row rejects the whole file with the errors of every row."""
        parsed = parse_report_lines(csv_text)
        errors = list(parsed.errors)
        if parsed.ok:
            license = self._license(license_id)
            for row, line in enumerate(parsed.lines, start=2):
                try:
                    check_lines(license, period_start, [line])
                except DomainError as exc:
                    column = next((c for c in ("country", "field_of_use", "currency") if c in exc.details), "")
                    errors.append(RowError(row, column, exc.message))
        if errors:
            raise DomainError(
                "the file has invalid rows; nothing was recorded",
                errors=[{"row": e.row, "column": e.column, "message": e.message} for e in errors],
            )
        return self.submit_royalty_report(
            ctx,
            license_id,
            period_start,
            period_end,
            parsed.lines,
            supersedes=supersedes,
            effective_date=effective_date,
        )

    def true_up_minimum_royalty(
        self, ctx: CommandContext, license_id: uuid.UUID, license_year: int, effective_date: date | None = None
    ) -> Money | None:
        """After a license year ends, invoice the shortfall below the minimum (or correct an
        earlier true-up after corrected reports). Returns the change, None when there is none."""
        ensure_finance(ctx.principal)
        license = self._license(license_id)
        day = effective_date or self.clock.today()
        ledger = self._ledger(license.id)
        change = ledger.assess_minimum(license, license_year, day)
        if change is None:
            return None
        account = self._account(license.id, license.asset_ids)
        start, _ = license_year_bounds(license.start_date, license_year)
        reference = f"minimum-true-up:{license_year}:{ledger.version}"
        self._book_change(account, RevenueKind.MINIMUM_TRUE_UP, change, day, license.terms_on(start), reference)
        self._save(ctx, ledger, account)
        return change

    def report_milestone(
        self, ctx: CommandContext, license_id: uuid.UUID, milestone: str, effective_date: date | None = None
    ) -> uuid.UUID:
        """The licensee reached a named milestone: its payment is invoiced. Returns the invoice id."""
        license = self._license(license_id)
        day = effective_date or self.clock.today()
        self._ensure_submits_reports(ctx.principal, license, day)
        license.report_milestone(milestone, str(ctx.principal), day)
        terms = license.terms_on(day)
        account, invoice_id = self._invoice_licensee(
            license, terms, RevenueKind.MILESTONE, terms.milestone(milestone), day, f"milestone:{milestone}"
        )
        self._save(ctx, license, account)
        return invoice_id

    def report_sublicense_income(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        sublicensee: str,
        income: int,
        currency: str,
        effective_date: date | None = None,
    ) -> uuid.UUID | None:
        """Invoice the agreed share of what the licensee received from a sublicensee."""
        license = self._license(license_id)
        day = effective_date or self.clock.today()
        self._ensure_submits_reports(ctx.principal, license, day)
        self._require_active(license)
        if not license.sublicensing_allowed:
            raise DomainError("this license does not allow sublicensing", license_id=str(license_id))
        terms = license.terms_on(day)
        share = basis_points_of(money(income, currency).amount, terms.sublicense_share_bps)
        if share <= 0:
            return None
        account, invoice_id = self._invoice_licensee(
            license, terms, RevenueKind.SUBLICENSE, money(share, currency), day,
            f"sublicense:{sublicensee}:{uuid.uuid4()}",
        )  # fmt: skip
        self._save(ctx, account)
        return invoice_id

    def get_royalty_ledger(self, ctx: CommandContext, license_id: uuid.UUID) -> RoyaltyLedger:
        license = self._license(license_id)
        self._ensure_reads(ctx.principal, license)
        return self._ledger(license_id)

    def royalty_reports(self, ctx: CommandContext, license_id: uuid.UUID) -> list[ReportView]:
        """Every report in submission order, with its royalty per currency and tier, and the invoice
        (or credit note) its submission raised."""
        license = self._license(license_id)
        self._ensure_reads(ctx.principal, license)
        ledger = self._ledger(license_id)
        royalty = ledger.royalty_by_report(license)
        try:
            account: LicenseAccount | None = self._existing_account(license_id)
        except NotFound:
            account = None
        return [
            ReportView(
                report, report.report_id in ledger.superseded, royalty.get(report.report_id, []),
                [_booking(account, report.report_id, currency, amount) for currency, amount in report.booked],
            )
            for report in sorted(ledger.reports.values(), key=lambda r: r.sequence)
        ]  # fmt: skip

    def royalty_report(self, ctx: CommandContext, license_id: uuid.UUID, report_id: uuid.UUID) -> ReportView:
        found = [view for view in self.royalty_reports(ctx, license_id) if view.report.report_id == report_id]
        if not found:
            raise NotFound("no such royalty report on this license", report_id=str(report_id))
        return found[0]

    def _book_change(
        self,
        account: LicenseAccount,
        kind: RevenueKind,
        change: Money,
        day: date,
        terms: RoyaltyTerms,
        reference: str,
        corrects: str | None = None,
    ) -> None:
        """Invoice an increase of what is due; credit a decrease (against the corrected invoice if any)."""
        if change.amount > 0:
            account.issue_invoice(kind, change, day, terms.payment_days, reference, terms.asset_split_bps)
        elif change.amount < 0:
            target = account.invoice_for(corrects) if corrects else None
            account.issue_credit_note(kind, -change, day, reference, target)

    def _ledger(self, license_id: uuid.UUID) -> RoyaltyLedger:
        return self._get_or_create(
            RoyaltyLedger, RoyaltyLedger.create_id(license_id), lambda: RoyaltyLedger(license_id)
        )


def royalty_reference(report_id: uuid.UUID, currency: str) -> str:
    """The reference of the invoice (or credit note) a report's royalty in a currency raised."""
    return f"royalty:{report_id}:{currency}"


def _invoiced_before(
    ledger: RoyaltyLedger, account: LicenseAccount, corrected: uuid.UUID | None, currency: str
) -> str | None:
    """The reference of the invoice a correction credits: that of the corrected report, or of the
    report it corrected in turn (a correction that was itself a decrease raised no invoice)."""
    while corrected is not None:
        reference = royalty_reference(corrected, currency)
        if account.invoice_for(reference) is not None:
            return reference
        corrected = ledger.reports[corrected].supersedes
    return None


def _booking(account: LicenseAccount | None, report_id: uuid.UUID, currency: str, amount: int) -> Booking:
    reference = royalty_reference(report_id, currency)
    if account is None:
        return Booking(currency, amount, None, None)
    return Booking(currency, amount, account.invoice_for(reference), account.credit_note_for(reference))
