"""The commercialization HTTP API: thin routes, each over the part of the application it calls.

Routes are plain `def` (eventsourcing is synchronous; FastAPI runs them in its thread
pool). Writes to a license honour If-Match; every POST honours Idempotency-Key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status

from commercialization.application import CommercializationApplication
from commercialization.application.assignments import Assignments
from commercialization.application.billing import Billing
from commercialization.application.licensing import Licensing
from commercialization.application.royalties import Royalties
from commercialization.entrypoints import schemas as s
from ipshare.eventstore import CommandContext
from ipshare.idempotency import check_version, etag, expected_version
from ipshare.runtime import Runtime, http_api
from ipshare.schemas import CsvText, IsoDate
from ipshare.web import CommandContextDep


def _application(request: Request) -> CommercializationApplication:
    app: CommercializationApplication = request.app.state.application()
    return app


LicensingDep = Annotated[Licensing, Depends(_application)]
RoyaltiesDep = Annotated[Royalties, Depends(_application)]
BillingDep = Annotated[Billing, Depends(_application)]
AssignmentsDep = Annotated[Assignments, Depends(_application)]
licenses = APIRouter(prefix="/licenses", tags=["licenses"])
accounts = APIRouter(prefix="/accounts", tags=["invoices and payments"])
assignments = APIRouter(prefix="/assignments", tags=["assignments"])
queries = APIRouter(tags=["queries"])


def _if_match(request: Request, licensing: LicensingDep, ctx: CommandContextDep, license_id: uuid.UUID) -> None:
    """412 when If-Match names another version than the license's current one."""
    check_version(licensing.get_license(ctx, license_id).version, expected_version(request))


IfMatch = [Depends(_if_match)]


def _license(licensing: Licensing, ctx: CommandContext, license_id: uuid.UUID, response: Response) -> s.LicenseOut:
    license = licensing.get_license(ctx, license_id)
    response.headers["ETag"] = etag(license.version)
    return s.LicenseOut.of(license)


# ---- licenses ----------------------------------------------------------------------


@licenses.post("", status_code=status.HTTP_201_CREATED)
def grant_license(
    body: s.GrantLicense, licensing: LicensingDep, ctx: CommandContextDep, response: Response
) -> s.LicenseOut:
    """Grant (or, with `submit: false`, draft) a license. A non-exclusive license is active at
    once; an exclusive or sole one waits for every co-owner's consent."""
    use_case = licensing.grant_license if body.submit else licensing.draft_license
    license_id = use_case(ctx, body.licensee, body.asset_ids, body.license_type, **body.options())
    response.headers["Location"] = f"/licenses/{license_id}"
    return _license(licensing, ctx, license_id, response)


@licenses.get("/{license_id}")
def get_license(
    license_id: uuid.UUID, licensing: LicensingDep, ctx: CommandContextDep, response: Response
) -> s.LicenseOut:
    return _license(licensing, ctx, license_id, response)


@licenses.post("/{license_id}/submission", dependencies=IfMatch)
def submit_license(
    license_id: uuid.UUID, body: s.OnBehalf, licensing: LicensingDep, ctx: CommandContextDep, response: Response
) -> s.LicenseOut:
    licensing.submit_license(ctx, license_id, body.effective_date)
    return _license(licensing, ctx, license_id, response)


@licenses.post("/{license_id}/consents", dependencies=IfMatch)
def give_consent(
    license_id: uuid.UUID, body: s.OnBehalf, licensing: LicensingDep, ctx: CommandContextDep, response: Response
) -> s.LicenseOut:
    licensing.give_consent(ctx, license_id, body.member_id, body.effective_date)
    return _license(licensing, ctx, license_id, response)


@licenses.post("/{license_id}/refusals", dependencies=IfMatch)
def refuse_consent(
    license_id: uuid.UUID, body: s.Refusal, licensing: LicensingDep, ctx: CommandContextDep, response: Response
) -> s.LicenseOut:
    licensing.refuse_consent(ctx, license_id, body.reason, body.member_id, body.effective_date)
    return _license(licensing, ctx, license_id, response)


@licenses.post(
    "/{license_id}/amendments", dependencies=IfMatch,
    responses={202: {"model": s.LicenseOut, "description": "proposed: waits for every co-owner's consent"}},
)  # fmt: skip
def amend_license(
    license_id: uuid.UUID, body: s.Amendment, licensing: LicensingDep, ctx: CommandContextDep, response: Response
) -> s.LicenseOut:
    """In force at once (200), or, for an exclusive or sole license of several co-owners, proposed
    until every co-owner consents (202, `proposed_amendment`)."""
    in_force = licensing.amend_license(
        ctx, license_id, body.effective_date, end_date=body.end_date, open_ended=body.open_ended,
        field_of_use=body.field_of_use, territory=body.territory, terms=body.terms.terms() if body.terms else None,
        note=body.note, member_id=body.member_id, fields=body.fields,
    )  # fmt: skip
    if not in_force:
        response.status_code = status.HTTP_202_ACCEPTED
    return _license(licensing, ctx, license_id, response)


@licenses.post("/{license_id}/amendments/consents", dependencies=IfMatch)
def consent_to_amendment(
    license_id: uuid.UUID, body: s.OnBehalf, licensing: LicensingDep, ctx: CommandContextDep, response: Response
) -> s.LicenseOut:
    """A co-owner consents to the proposed amendment; the last consent puts it in force."""
    licensing.consent_to_amendment(ctx, license_id, body.member_id, body.effective_date)
    return _license(licensing, ctx, license_id, response)


@licenses.post("/{license_id}/amendments/refusals", dependencies=IfMatch)
def refuse_amendment(
    license_id: uuid.UUID, body: s.Refusal, licensing: LicensingDep, ctx: CommandContextDep, response: Response
) -> s.LicenseOut:
    """A co-owner refuses the proposed amendment: it is dropped and the license stays as it is."""
    licensing.refuse_amendment(ctx, license_id, body.reason, body.member_id, body.effective_date)
    return _license(licensing, ctx, license_id, response)


@licenses.post("/{license_id}/termination", dependencies=IfMatch)
def terminate_license(
    license_id: uuid.UUID, body: s.Termination, licensing: LicensingDep, ctx: CommandContextDep, response: Response
) -> s.LicenseOut:
    licensing.terminate_license(ctx, license_id, body.reason, body.effective_date, body.member_id)
    return _license(licensing, ctx, license_id, response)


@licenses.post("/{license_id}/expiry", dependencies=IfMatch)
def expire_license(
    license_id: uuid.UUID, body: s.Expiry, licensing: LicensingDep, ctx: CommandContextDep, response: Response
) -> s.LicenseOut:
    """Finance records that an active license's term has ended (a 409 while it runs); it
    expires as of its end date. The service's expiry worker does the same on its own."""
    licensing.expire_license(ctx, license_id, body.as_of)
    return _license(licensing, ctx, license_id, response)


@licenses.post("/{license_id}/milestones", status_code=status.HTTP_201_CREATED)
def report_milestone(
    license_id: uuid.UUID, body: s.MilestoneReport, royalties: RoyaltiesDep, ctx: CommandContextDep
) -> s.Created:
    """The licensee reached a named milestone; its payment is invoiced (returns the invoice)."""
    return s.Created(id=royalties.report_milestone(ctx, license_id, body.milestone, body.effective_date))


@licenses.post("/{license_id}/sublicense-income", status_code=status.HTTP_201_CREATED)
def report_sublicense_income(
    license_id: uuid.UUID, body: s.SublicenseIncome, royalties: RoyaltiesDep, ctx: CommandContextDep
) -> s.Created | None:
    invoice_id = royalties.report_sublicense_income(
        ctx, license_id, body.sublicensee, body.income, body.currency, body.effective_date
    )
    return s.Created(id=invoice_id) if invoice_id else None


@licenses.post("/{license_id}/maintenance-invoices", status_code=status.HTTP_201_CREATED)
def invoice_maintenance_fee(
    license_id: uuid.UUID, body: s.LicenseYear, billing: BillingDep, ctx: CommandContextDep
) -> s.Created:
    return s.Created(id=billing.invoice_maintenance_fee(ctx, license_id, body.license_year, body.effective_date))


@licenses.post("/{license_id}/patent-cost-invoices", status_code=status.HTTP_201_CREATED)
def invoice_patent_costs(
    license_id: uuid.UUID, body: s.PatentCosts, billing: BillingDep, ctx: CommandContextDep
) -> s.Created:
    invoice_id = billing.invoice_patent_costs(
        ctx, license_id, body.amount, body.currency, body.description, body.effective_date
    )
    return s.Created(id=invoice_id)


@licenses.post("/{license_id}/minimum-true-ups")
def true_up_minimum(
    license_id: uuid.UUID, body: s.LicenseYear, royalties: RoyaltiesDep, ctx: CommandContextDep
) -> dict[str, Any]:
    """Invoice (or credit) the shortfall below the minimum annual royalty of a finished license year."""
    change = royalties.true_up_minimum_royalty(ctx, license_id, body.license_year, body.effective_date)
    return {"change": None if change is None else {"amount": change.amount, "currency": change.currency}}


@licenses.post("/{license_id}/royalty-reports", status_code=status.HTTP_201_CREATED)
def submit_royalty_report(
    license_id: uuid.UUID, body: s.RoyaltyReportIn, royalties: RoyaltiesDep, ctx: CommandContextDep
) -> s.ReportCreated:
    """Record a report (or a correction): the answer carries its royalty per currency and tier, and
    the invoice (or credit note) it raised."""
    report_id = royalties.submit_royalty_report(
        ctx, license_id, body.period_start, body.period_end, [line.line() for line in body.lines],
        no_sales=body.no_sales, supersedes=body.supersedes, effective_date=body.effective_date,
    )  # fmt: skip
    return s.ReportCreated.created(royalties.royalty_report(ctx, license_id, report_id))


@licenses.post("/{license_id}/royalty-reports/csv", status_code=status.HTTP_201_CREATED)
def import_royalty_report(
    license_id: uuid.UUID,
    royalties: RoyaltiesDep,
    ctx: CommandContextDep,
    csv_text: CsvText,
    period_start: Annotated[IsoDate, Query()],
    period_end: Annotated[IsoDate, Query()],
    supersedes: uuid.UUID | None = None,
) -> s.ReportCreated:
    """A report's lines as CSV, all or nothing: any bad row is a 422 listing every bad row."""
    report_id = royalties.import_royalty_report_csv(
        ctx, license_id, period_start, period_end, csv_text, supersedes=supersedes
    )
    return s.ReportCreated.created(royalties.royalty_report(ctx, license_id, report_id))


@licenses.get("/{license_id}/royalty-reports")
def royalty_reports(license_id: uuid.UUID, royalties: RoyaltiesDep, ctx: CommandContextDep) -> list[s.ReportOut]:
    """Every report in submission order, with its royalty per currency and tier (over the reports in
    force) and the invoice or credit note its submission raised."""
    return [s.ReportOut.of(view) for view in royalties.royalty_reports(ctx, license_id)]


@licenses.post("/{license_id}/receipts", status_code=status.HTTP_201_CREATED, tags=["invoices and payments"])
def record_receipt(
    license_id: uuid.UUID, body: s.ReceiptIn, billing: BillingDep, ctx: CommandContextDep
) -> s.ReceiptOut:
    """Finance records money received on a license in one call: it pays the invoices named, then the
    oldest open ones in its currency; with `uninvoiced_kind`, what no invoice awaited is invoiced as
    that kind (issued on the received date) and paid at once, so all of it is revenue. Without it the
    rest stays unapplied cash and the answer warns."""
    outcome = billing.record_receipt(
        ctx, license_id, body.amount, body.currency, body.received_date, body.payer_reference,
        uninvoiced_kind=body.uninvoiced_kind, invoice_ids=body.invoice_ids,
    )  # fmt: skip
    return s.ReceiptOut.of(outcome)


@queries.get("/assets/{asset_id}/licenses", tags=["licenses"])
def licenses_on_asset(asset_id: uuid.UUID, licensing: LicensingDep, ctx: CommandContextDep) -> list[s.LicenseOut]:
    return [s.LicenseOut.of(license) for license in licensing.licenses_on_asset(ctx, asset_id)]


# ---- accounts, payments, receivables -----------------------------------------------


@accounts.get("/{deal_id}")
def get_account(deal_id: uuid.UUID, billing: BillingDep, ctx: CommandContextDep) -> s.AccountOut:
    """Invoices, payments and open balances of a license (or an assignment)."""
    return s.AccountOut.of(billing.get_account(ctx, deal_id))


@accounts.post("/{deal_id}/payments", status_code=status.HTTP_201_CREATED)
def record_payment(deal_id: uuid.UUID, body: s.PaymentIn, billing: BillingDep, ctx: CommandContextDep) -> s.ReceiptOut:
    """Cash received, matched to invoices; what is left over stays unapplied, and a warning says so
    (`POST /licenses/{id}/receipts` records a license's receipt in one call)."""
    payment_id = billing.record_payment(
        ctx, deal_id, body.amount, body.currency, body.received_date, body.payer_reference, body.invoice_ids
    )
    return s.ReceiptOut.of(billing.payment_outcome(ctx, deal_id, payment_id))


@queries.get("/receivables", tags=["invoices and payments"])
def receivables(
    billing: BillingDep,
    ctx: CommandContextDep,
    as_of: Annotated[
        IsoDate | None, Query(description="the ageing day (default today): what was dated by then")
    ] = None,
    known_at: Annotated[
        datetime | None, Query(description="only what was recorded by this time too (ISO 8601; UTC if no offset)")
    ] = None,
) -> s.ReceivablesOut:
    """Open invoices with their ageing (current, 30, 60, 90+ days) and unapplied cash on `as_of`:
    invoices issued, cash received and credit notes issued on or before it."""
    return s.ReceivablesOut.of(billing.receivables(ctx, as_of, known_at=known_at))


# ---- assignments -------------------------------------------------------------------


@assignments.post("", status_code=status.HTTP_201_CREATED)
def propose_assignment(
    body: s.ProposeAssignment, assignments: AssignmentsDep, ctx: CommandContextDep
) -> s.AssignmentOut:
    assignment_id = assignments.propose_assignment(
        ctx, body.asset_id, body.assignee, body.proceeds, body.currency,
        assignee_member_id=body.assignee_member_id, proposed_by=body.proposed_by, effective_date=body.effective_date,
    )  # fmt: skip
    return s.AssignmentOut.of(assignments.get_assignment(ctx, assignment_id))


@assignments.get("/{assignment_id}")
def get_assignment(assignment_id: uuid.UUID, assignments: AssignmentsDep, ctx: CommandContextDep) -> s.AssignmentOut:
    return s.AssignmentOut.of(assignments.get_assignment(ctx, assignment_id))


@assignments.post("/{assignment_id}/consents")
def consent_to_assignment(
    assignment_id: uuid.UUID, body: s.OnBehalf, assignments: AssignmentsDep, ctx: CommandContextDep
) -> s.AssignmentOut:
    assignments.consent_to_assignment(ctx, assignment_id, body.member_id, body.effective_date)
    return s.AssignmentOut.of(assignments.get_assignment(ctx, assignment_id))


@assignments.post("/{assignment_id}/refusals")
def refuse_assignment(
    assignment_id: uuid.UUID, body: s.Refusal, assignments: AssignmentsDep, ctx: CommandContextDep
) -> s.AssignmentOut:
    assignments.refuse_assignment(ctx, assignment_id, body.reason, body.member_id, body.effective_date)
    return s.AssignmentOut.of(assignments.get_assignment(ctx, assignment_id))


ROUTERS = (licenses, accounts, assignments, queries)


def create_http(runtime: Runtime[CommercializationApplication, Any]) -> FastAPI:
    return http_api(runtime, *ROUTERS)
