"""Request and response bodies of the commercialization HTTP API, and their mapping from the domain."""

from __future__ import annotations

import uuid
from datetime import date
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, Field

from commercialization.application.billing import ReceiptOutcome, ReceivablesReport
from commercialization.application.licensing import LicenseOptions
from commercialization.application.royalties import ReportView
from commercialization.domain.account import Invoice, LicenseAccount, Payment, RevenueKind
from commercialization.domain.assignment import Assignment, AssignmentStatus, TransferStatus
from commercialization.domain.license import License, LicenseeKind, LicenseStatus
from commercialization.domain.reports import CurrencyRoyalty, ReportLine
from commercialization.domain.scope import LicenseType
from commercialization.domain.terms import Milestone, RoyaltyTerms, Tier
from ipshare.schemas import Body, OptionalChoice
from ipshare_kernel.money import BASIS_POINTS

# Receivables ageing by days past due (`AGEING_BUCKETS`, which a test holds this to).
AgeingBucket = Literal["current", "30", "60", "90+"]


class Created(BaseModel):
    id: uuid.UUID
    status: None = Field(None, description="always null: nothing created here has a status of its own")


# ---- terms -------------------------------------------------------------------------


class TierIn(Body):
    threshold: int = Field(ge=0, description="cumulative net sales (minor units) from which the rate applies")
    rate_bps: int = Field(ge=0, le=10_000)


class MilestoneIn(Body):
    name: str = Field(min_length=1)
    amount: int = Field(ge=0)


class TermsIn(Body):
    currency: str = Field(min_length=3, max_length=3)
    upfront_fee: int = Field(0, ge=0)
    annual_maintenance_fee: int = Field(0, ge=0)
    running_royalty: dict[str, list[TierIn]] = Field(
        default_factory=dict, description="per currency of sales: tiers by cumulative net sales"
    )
    minimum_annual_royalty: int = Field(0, ge=0)
    milestones: list[MilestoneIn] = Field(default_factory=list)
    sublicense_share_bps: int = Field(0, ge=0, le=10_000)
    patent_cost_reimbursement: bool = False
    asset_split_bps: dict[str, int] = Field(default_factory=dict, description="asset id -> share; sums to 10000")
    payment_days: int = Field(30, ge=0)

    def terms(self) -> RoyaltyTerms:
        return RoyaltyTerms(
            currency=self.currency,
            upfront_fee=self.upfront_fee,
            annual_maintenance_fee=self.annual_maintenance_fee,
            running_royalty={
                c: tuple(Tier(t.threshold, t.rate_bps) for t in ts) for c, ts in self.running_royalty.items()
            },
            minimum_annual_royalty=self.minimum_annual_royalty,
            milestones=tuple(Milestone(m.name, m.amount) for m in self.milestones),
            sublicense_share_bps=self.sublicense_share_bps,
            patent_cost_reimbursement=self.patent_cost_reimbursement,
            asset_split_bps=self.asset_split_bps,
            payment_days=self.payment_days,
        )


class TermsOut(BaseModel):
    currency: str
    upfront_fee: int
    annual_maintenance_fee: int
    running_royalty: dict[str, list[dict[str, int]]]
    minimum_annual_royalty: int
    milestones: list[dict[str, Any]]
    sublicense_share_bps: int
    patent_cost_reimbursement: bool
    asset_split_bps: dict[str, int]
    payment_days: int

    @classmethod
    def of(cls, terms: RoyaltyTerms) -> TermsOut:
        return cls(
            currency=terms.currency,
            upfront_fee=terms.upfront_fee,
            annual_maintenance_fee=terms.annual_maintenance_fee,
            running_royalty={
                c: [{"threshold": t.threshold, "rate_bps": t.rate_bps} for t in ts]
                for c, ts in terms.running_royalty.items()
            },
            minimum_annual_royalty=terms.minimum_annual_royalty,
            milestones=[{"name": m.name, "amount": m.amount} for m in terms.milestones],
            sublicense_share_bps=terms.sublicense_share_bps,
            patent_cost_reimbursement=terms.patent_cost_reimbursement,
            asset_split_bps=dict(terms.asset_split_bps),
            payment_days=terms.payment_days,
        )


# ---- licenses ----------------------------------------------------------------------


class GrantLicense(Body):
    licensee: str = Field(min_length=1, max_length=300)
    asset_ids: list[uuid.UUID] = Field(min_length=1)
    license_type: LicenseType = LicenseType.NON_EXCLUSIVE
    terms: TermsIn
    field_of_use: str | None = Field(None, description="a description of the field; default: all fields")
    fields: list[str] = Field(
        default_factory=list,
        description="IPC/CPC codes naming the field of use (H01M, H01M 10/052...), which nest: H01M covers "
        "H01M 10/052; none: all fields",
    )
    territory: list[str] | None = Field(
        None,
        description="ISO 3166-1 alpha-2 country codes (CN, US, DE...), or WORLDWIDE alone (the default); "
        "any other code is a 422",
    )
    start_date: date | None = None
    end_date: date | None = None
    sublicensing_allowed: bool = False
    licensee_kind: LicenseeKind = LicenseeKind.EXTERNAL
    spin_off_id: uuid.UUID | None = None
    cross_license_assets: list[str] = Field(default_factory=list)
    granted_by: uuid.UUID | None = Field(None, description="the granting co-owner, when an admin acts for it")
    effective_date: date | None = None
    submit: bool = Field(True, description="false: keep it a draft")

    def options(self) -> LicenseOptions:
        options: LicenseOptions = {
            "terms": self.terms.terms(),
            "sublicensing_allowed": self.sublicensing_allowed,
            "licensee_kind": self.licensee_kind,
            "spin_off_id": self.spin_off_id,
            "cross_license_assets": self.cross_license_assets,
            "granted_by": self.granted_by,
            "effective_date": self.effective_date,
            "end_date": self.end_date,
        }
        if self.field_of_use is not None:
            options["field_of_use"] = self.field_of_use
        if self.fields:
            options["fields"] = self.fields
        if self.territory is not None:
            options["territory"] = self.territory
        if self.start_date is not None:
            options["start_date"] = self.start_date
        return options


class OnBehalf(Body):
    member_id: uuid.UUID | None = Field(None, description="the co-owner, when an admin acts for it")
    effective_date: date | None = None


class Refusal(OnBehalf):
    reason: str = Field(min_length=1)


class Amendment(Body):
    effective_date: date
    end_date: date | None = None
    open_ended: bool = False
    field_of_use: str | None = None
    fields: list[str] | None = Field(None, description="IPC/CPC codes naming the new field; none: kept")
    territory: list[str] | None = None
    terms: TermsIn | None = None
    note: str = ""
    member_id: uuid.UUID | None = None


class Termination(Refusal):
    pass


class Expiry(Body):
    as_of: date | None = Field(None, description="the day the term is judged ended by (default today)")


class MilestoneReport(Body):
    milestone: str = Field(min_length=1)
    effective_date: date | None = None


class SublicenseIncome(Body):
    sublicensee: str = Field(min_length=1)
    income: int = Field(ge=0)
    currency: str
    effective_date: date | None = None


class LicenseYear(Body):
    license_year: int = Field(ge=1)
    effective_date: date | None = None


class PatentCosts(Body):
    amount: int = Field(gt=0)
    currency: str
    description: str = Field(min_length=1)
    effective_date: date | None = None


class ProposedAmendmentOut(BaseModel):
    """An amendment of an exclusive or sole license waiting for every co-owner's consent."""

    effective_date: date
    end_date: date | None
    field_of_use: str
    fields: list[str]
    territory: list[str]
    note: str
    required_consents: list[uuid.UUID]
    missing_consents: list[uuid.UUID]

    @classmethod
    def of(cls, license: License) -> ProposedAmendmentOut | None:
        proposal = license.proposed_amendment
        if proposal is None:
            return None
        return cls(
            effective_date=proposal["effective_date"], end_date=proposal["end_date"],
            field_of_use=proposal["field_of_use"], fields=proposal["fields"], territory=proposal["territory"],
            note=proposal["note"],
            required_consents=license.amendment_required, missing_consents=license.amendment_missing_consents,
        )  # fmt: skip


class LicenseOut(BaseModel):
    license_id: uuid.UUID
    licensee: str
    licensee_kind: LicenseeKind
    spin_off_id: str
    asset_ids: list[uuid.UUID]
    license_type: LicenseType
    field_of_use: str
    fields: list[str] = Field(description="IPC/CPC codes of the field; empty: all fields (or a free-text field alone)")
    territory: list[str]
    start_date: date
    end_date: date | None
    sublicensing_allowed: bool
    status: LicenseStatus
    granted_by: uuid.UUID
    required_consents: list[uuid.UUID]
    consents: list[uuid.UUID]
    granted_on: date | None
    ended_on: date | None
    terms: TermsOut
    milestones_reported: dict[str, date]
    amendments: list[date]
    proposed_amendment: ProposedAmendmentOut | None
    version: int

    @classmethod
    def of(cls, license: License) -> LicenseOut:
        return cls(
            license_id=license.id,
            licensee=license.licensee,
            licensee_kind=license.licensee_kind,
            spin_off_id=license.spin_off_id,
            asset_ids=license.asset_ids,
            license_type=license.license_type,
            field_of_use=license.field_of_use,
            fields=list(license.fields),
            territory=sorted(license.territory),
            start_date=license.start_date,
            end_date=license.end_date,
            sublicensing_allowed=license.sublicensing_allowed,
            status=license.status,
            granted_by=license.granted_by,
            required_consents=license.required_consents,
            consents=sorted(license.consents, key=str),
            granted_on=license.granted_on,
            ended_on=license.ended_on,
            terms=TermsOut.of(license.terms),
            milestones_reported=license.milestones_reported,
            amendments=license.amendments,
            proposed_amendment=ProposedAmendmentOut.of(license),
            version=license.version,
        )


# ---- royalty reports ---------------------------------------------------------------


class ReportLineIn(Body):
    product: str = Field(min_length=1)
    country: str = Field(min_length=2, max_length=2)
    currency: str = Field(min_length=3, max_length=3)
    gross_sales: int = Field(ge=0)
    deductions: int = Field(0, ge=0)
    field_of_use: str = ""

    def line(self) -> ReportLine:
        return ReportLine(**self.model_dump())


class RoyaltyReportIn(Body):
    period_start: date
    period_end: date
    lines: list[ReportLineIn] = Field(default_factory=list)
    no_sales: bool = False
    supersedes: uuid.UUID | None = None
    effective_date: date | None = None


class TierPartOut(BaseModel):
    threshold: int = Field(description="cumulative net sales from which the rate applies")
    rate_bps: int
    net_sales: int = Field(description="the part of the report's net sales inside this tier")
    royalty_exact: str = Field(description="its exact royalty in minor units (a decimal: rates are in bps)")


class CurrencyRoyaltyOut(BaseModel):
    currency: str
    sales_before: int = Field(description="cumulative net sales of the earlier reports in force")
    net_sales: int
    royalty: int = Field(description="rounded cumulative royalty after this report less before it")
    tiers: list[TierPartOut]

    @classmethod
    def of(cls, line: CurrencyRoyalty) -> CurrencyRoyaltyOut:
        tiers = [
            TierPartOut(threshold=t.threshold, rate_bps=t.rate_bps, net_sales=t.net_sales,
                        royalty_exact=_decimal(t.royalty))
            for t in line.tiers
        ]  # fmt: skip
        return cls(
            currency=line.currency, sales_before=line.sales_before, net_sales=line.net_sales, royalty=line.royalty,
            tiers=tiers,
        )  # fmt: skip


class BookingOut(BaseModel):
    currency: str
    amount: int = Field(description="the change in royalty due its submission booked (negative: credited)")
    invoice_id: uuid.UUID | None = Field(description="the invoice raised for an increase")
    credit_note_id: uuid.UUID | None = Field(description="the credit note issued for a decrease")


class ReportOut(BaseModel):
    report_id: uuid.UUID
    period_start: date
    period_end: date
    lines: list[dict[str, Any]]
    net_sales: dict[str, int]
    supersedes: uuid.UUID | None
    superseded: bool
    royalty: list[CurrencyRoyaltyOut] = Field(
        description="per currency, computed now over the reports in force (empty once superseded)"
    )
    booked: list[BookingOut] = Field(description="what its submission invoiced or credited, per currency")

    @classmethod
    def of(cls, view: ReportView) -> ReportOut:
        report = view.report
        return cls(
            report_id=report.report_id,
            period_start=report.period_start,
            period_end=report.period_end,
            lines=[line.as_event_dict() for line in report.lines],
            net_sales=report.net_sales(),
            supersedes=report.supersedes,
            superseded=view.superseded,
            royalty=[CurrencyRoyaltyOut.of(line) for line in view.royalty],
            booked=[
                BookingOut(
                    currency=b.currency, amount=b.amount, invoice_id=b.invoice_id, credit_note_id=b.credit_note_id
                )
                for b in view.booked
            ],
        )


class ReportCreated(ReportOut):
    id: uuid.UUID = Field(description="the report's id (as `report_id`)")

    @classmethod
    def created(cls, view: ReportView) -> ReportCreated:
        return cls(id=view.report.report_id, **ReportOut.of(view).model_dump())


def _decimal(value: Fraction) -> str:
    """An exact fraction whose denominator divides 10,000, written as a decimal."""
    whole, rest = divmod(abs(value.numerator) * (BASIS_POINTS // value.denominator), BASIS_POINTS)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}" if not rest else f"{sign}{whole}.{rest:04d}".rstrip("0")


# ---- accounts and payments ---------------------------------------------------------


class PaymentIn(Body):
    amount: int = Field(gt=0, description="minor units")
    currency: str = Field(min_length=3, max_length=3)
    received_date: date
    payer_reference: str = Field(min_length=1)
    invoice_ids: list[uuid.UUID] = Field([], description="invoices to settle first; the rest oldest due first")


class ReceiptIn(PaymentIn):
    uninvoiced_kind: OptionalChoice[RevenueKind] = Field(
        None,
        description="what no open invoice awaits is invoiced as this kind and paid at once; without it, the rest "
        "stays unapplied cash (a warning says so)",
    )


class AppliedOut(BaseModel):
    invoice_id: uuid.UUID
    kind: RevenueKind
    amount: int


class ReceiptOut(BaseModel):
    id: uuid.UUID = Field(description="the payment")
    currency: str
    applied: list[AppliedOut] = Field(description="the invoices it paid: each part is revenue")
    invoice_id: uuid.UUID | None = Field(description="the invoice raised for what no invoice awaited")
    unapplied: int = Field(description="cash no invoice took: not revenue until one does")
    warnings: list[str]

    @classmethod
    def of(cls, outcome: ReceiptOutcome) -> ReceiptOut:
        return cls(
            id=outcome.payment_id,
            currency=outcome.currency,
            applied=[AppliedOut(invoice_id=a.invoice_id, kind=a.kind, amount=a.amount) for a in outcome.applied],
            invoice_id=outcome.invoice_id,
            unapplied=outcome.unapplied,
            warnings=outcome.warnings,
        )


class InvoiceOut(BaseModel):
    invoice_id: uuid.UUID
    kind: RevenueKind
    amount: int
    currency: str
    issued_on: date
    due_date: date
    reference: str
    paid: int
    credited: int
    open_amount: int

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return cls(
            invoice_id=invoice.invoice_id,
            kind=invoice.kind,
            amount=invoice.amount,
            currency=invoice.currency,
            issued_on=invoice.issued_on,
            due_date=invoice.due_date,
            reference=invoice.reference,
            paid=invoice.paid,
            credited=invoice.credited,
            open_amount=invoice.open_amount,
        )


class PaymentOut(BaseModel):
    payment_id: uuid.UUID
    amount: int
    currency: str
    received_on: date
    payer_reference: str
    applied: int
    unapplied: int

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            payment_id=payment.payment_id,
            amount=payment.amount,
            currency=payment.currency,
            received_on=payment.received_on,
            payer_reference=payment.payer_reference,
            applied=payment.applied,
            unapplied=payment.unapplied,
        )


class AccountOut(BaseModel):
    deal_id: uuid.UUID
    asset_ids: list[uuid.UUID]
    invoices: list[InvoiceOut]
    payments: list[PaymentOut]
    unapplied_cash: dict[str, int]
    unused_credit: dict[str, int]

    @classmethod
    def of(cls, account: LicenseAccount) -> AccountOut:
        return cls(
            deal_id=account.license_id,
            asset_ids=account.asset_ids,
            invoices=[InvoiceOut.of(i) for i in sorted(account.invoices.values(), key=lambda i: i.sequence)],
            payments=[PaymentOut.of(p) for p in account.payments.values()],
            unapplied_cash=account.unapplied_cash(),
            unused_credit=account.unused_credit(),
        )


class ReceivableOut(BaseModel):
    deal_id: uuid.UUID
    invoice_id: uuid.UUID
    kind: RevenueKind
    reference: str
    open_amount: int
    currency: str
    issued_on: date
    due_date: date
    bucket: AgeingBucket = Field(description="days past due: current (under 30, or not yet due), 30, 60, 90+")


class UnappliedOut(BaseModel):
    deal_id: uuid.UUID
    payment_id: uuid.UUID
    amount: int
    currency: str
    received_on: date
    payer_reference: str


class ReceivablesOut(BaseModel):
    as_of: date
    lines: list[ReceivableOut]
    totals: dict[str, dict[str, int]]
    unapplied_cash: dict[str, int]
    unapplied: list[UnappliedOut] = Field(
        description="each payment with cash no invoice had taken on as_of: received, but not revenue"
    )

    @classmethod
    def of(cls, report: ReceivablesReport) -> ReceivablesOut:
        lines = [
            ReceivableOut(
                deal_id=r.deal_id,
                invoice_id=r.invoice_id,
                kind=r.kind,
                reference=r.reference,
                open_amount=r.open_amount.amount,
                currency=r.open_amount.currency,
                issued_on=r.issued_on,
                due_date=r.due_date,
                bucket=r.bucket,
            )
            for r in report.lines
        ]
        unapplied = [
            UnappliedOut(
                deal_id=c.deal_id, payment_id=c.payment_id, amount=c.amount.amount, currency=c.amount.currency,
                received_on=c.received_on, payer_reference=c.payer_reference,
            )
            for c in report.unapplied
        ]  # fmt: skip
        return cls(
            as_of=report.as_of, lines=lines, totals=report.totals, unapplied_cash=report.unapplied_cash,
            unapplied=unapplied,
        )  # fmt: skip


# ---- assignments -------------------------------------------------------------------


class ProposeAssignment(Body):
    asset_id: uuid.UUID
    assignee: str = Field(min_length=1)
    proceeds: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    assignee_member_id: uuid.UUID | None = None
    proposed_by: uuid.UUID | None = None
    effective_date: date | None = None


class AssignmentOut(BaseModel):
    assignment_id: uuid.UUID
    asset_id: uuid.UUID
    assignee: str
    assignee_member_id: str
    proceeds: int
    currency: str
    owners: dict[uuid.UUID, int]
    consents: list[uuid.UUID]
    status: AssignmentStatus
    agreed_on: date | None
    transfer_requested_on: date | None
    transfer_completed_on: date | None
    transfer_status: TransferStatus
    transfer_refused_on: date | None
    transfer_refusal_code: str | None = Field(description="the IP registry's status, e.g. FAILED_PRECONDITION")
    transfer_refusal_reason: str | None = Field(description="the IP registry's reason for refusing the transfer")

    @classmethod
    def of(cls, assignment: Assignment) -> AssignmentOut:
        code, reason = assignment.transfer_refusal or (None, None)
        return cls(
            assignment_id=assignment.id,
            asset_id=assignment.asset_id,
            assignee=assignment.assignee,
            assignee_member_id=assignment.assignee_member_id,
            proceeds=assignment.proceeds.amount,
            currency=assignment.proceeds.currency,
            owners=assignment.owners,
            consents=sorted(assignment.consents, key=str),
            status=assignment.status,
            agreed_on=assignment.agreed_on,
            transfer_requested_on=assignment.transfer_requested_on,
            transfer_completed_on=assignment.transfer_completed_on,
            transfer_status=assignment.transfer_status,
            transfer_refused_on=assignment.transfer_refused_on,
            transfer_refusal_code=code,
            transfer_refusal_reason=reason,
        )
