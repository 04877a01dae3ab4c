"""Use cases of commercialization: licenses, royalty reports, invoices, payments, assignments.

Each method is what an HTTP route or gRPC handler calls: context first, plain
arguments, one `record` (one transaction) per call. Who owns an asset is asked of
two lookups: `ownership` for the checks of a write (the IP registry over gRPC, falling
back to the local projection of its topic when it does not answer) and `reads` for
who may read (the local projection, so reads keep working while the registry is down).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple, Protocol, TypedDict, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from typing_extensions import Unpack

from commercialization.csv_reports import RowError, parse_report_lines
from commercialization.domain.account import AGEING_BUCKETS, LicenseAccount, Receivable, RevenueKind
from commercialization.domain.assignment import Assignment, AssignmentStatus, TransferOutcome
from commercialization.domain.license import AssetLicenses, License, LicenseStatus, Owners, check_co_owner
from commercialization.domain.reports import CurrencyRoyalty, Report, ReportLine, RoyaltyLedger, check_lines
from commercialization.domain.royalty import license_year_bounds
from commercialization.domain.scope import WORLDWIDE, Footprint, find_conflict
from commercialization.domain.terms import RoyaltyTerms
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext, ServiceApplication
from ipshare_kernel.actor import Actor, Attribution
from ipshare_kernel.errors import Conflict, DomainError, Forbidden, NotFound
from ipshare_kernel.money import CurrencyError, Money, basis_points_of

A = TypeVar("A", bound=Aggregate)


class OwnershipLookup(Protocol):
    """Who owned an asset on a day: member id -> share in basis points (empty: no owners that day)."""

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]: ...


class OwnershipRecord(OwnershipLookup, Protocol):
    """Ownership over time: also every member that held a share on some day of a span."""

    def owners_during(self, asset_id: uuid.UUID, start: date, end: date) -> set[uuid.UUID]: ...


class PointInTimeOwnership:
    """An `OwnershipRecord` over a lookup that only answers "as of a day": a span's owners are
    those on its first and last day (exact for owners that do not change meanwhile)."""

    def __init__(self, lookup: OwnershipLookup) -> None:
        self.lookup = lookup

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return self.lookup.owners_as_of(asset_id, as_of)

    def owners_during(self, asset_id: uuid.UUID, start: date, end: date) -> set[uuid.UUID]:
        found: set[uuid.UUID] = set()
        for day in {start, end} if start <= end else set():
            with contextlib.suppress(NotFound):  # an asset the registry does not know has no owners
                found.update(m for m, share in self.lookup.owners_as_of(asset_id, day).items() if share > 0)
        return found


class OwnershipTransfers(Protocol):
    """Carries out a requested transfer in the IP registry (idempotent by its request id)."""

    def transfer_ownership(
        self, requested: Assignment.OwnershipTransferRequested, caused_by: Actor | None = None
    ) -> TransferOutcome:
        """Carry out the request on behalf of `caused_by`; raises `TransferRefused` when the registry
        says no for good."""
        ...


class RequestedTransfer(NamedTuple):
    """An ownership transfer request, where it lies in the log, and who made it (its event's actor)."""

    position: int
    event: Assignment.OwnershipTransferRequested
    requested_by: Actor | None


# -- access rules (pure guards) ---------------------------------------------------------

_BOOKKEEPERS = frozenset({Role.FINANCE, Role.ADMIN, Role.SERVICE})
# A service's own credentials act for no member: only a person (an admin) speaks for one.
_ACTS_FOR_MEMBERS = frozenset({Role.ADMIN})
_RECORDS_TRANSFER_ANSWERS = frozenset({Role.ADMIN, Role.SERVICE})


def ensure_finance(principal: Principal) -> None:
    """Payments, invoices and true-ups are finance's to record."""
    if principal.role not in _BOOKKEEPERS:
        raise Forbidden("only finance records payments and invoices", role=principal.role)


def ensure_reads_everything(principal: Principal) -> None:
    if not principal.reads_everything:
        raise Forbidden("only finance, auditors and administrators read across licenses", role=principal.role)


def ensure_reads_license(principal: Principal, owners: Collection[uuid.UUID]) -> None:
    """Members read the deals of the assets they own (`member_reads`); finance, auditors and admins
    read everything, whoever owns the assets now (even nobody, after a sale outside the membership)."""
    if principal.reads_everything:
        return
    if principal.role is Role.MEMBER and principal.member_id in owners:
        return
    raise Forbidden("members read only licenses on assets they own", role=principal.role)


def ensure_submits_reports(principal: Principal, owners: Collection[uuid.UUID]) -> None:
    """Licensee reports come through finance, or through an owning member on the licensee's behalf."""
    if principal.role in _BOOKKEEPERS:
        return
    if principal.role is Role.MEMBER and principal.member_id in owners:
        return
    raise Forbidden("reports are submitted by finance or by a member owning the licensed assets", role=principal.role)


def acting_member(principal: Principal, member_id: uuid.UUID | None = None) -> uuid.UUID:
    """The member a command speaks for: a member speaks for itself; an admin names one."""
    if principal.role is Role.MEMBER:
        assert principal.member_id is not None  # tokens guarantee it
        if member_id is not None and member_id != principal.member_id:
            raise Forbidden("a member acts only for itself", member_id=str(member_id))
        return principal.member_id
    if principal.role in _ACTS_FOR_MEMBERS and member_id is not None:
        return member_id
    if principal.role in _ACTS_FOR_MEMBERS:
        raise DomainError("name the member this command is on behalf of")
    raise Forbidden("only members (or administrators on their behalf) act as owners", role=principal.role)


def money(amount: int, currency: str) -> Money:
    try:
        return Money(amount, currency)
    except (CurrencyError, TypeError) as exc:
        raise DomainError(str(exc), currency=currency) from None


class LicenseOptions(TypedDict, total=False):
    """Optional parts of a new license; `terms` wins over the flat `royalty_rate_bps` + `currency`."""

    currency: str
    terms: RoyaltyTerms
    field_of_use: str  # a description; the field is named by `fields`
    fields: Sequence[str]  # IPC/CPC codes; none: all fields
    territory: Sequence[str]
    start_date: date  # default: the effective date
    end_date: date | None  # default: open-ended
    sublicensing_allowed: bool
    licensee_kind: str  # external | spin_off
    spin_off_id: uuid.UUID | None
    cross_license_assets: Sequence[str]  # a cross-license: the counterparty's assets we receive, no cash
    granted_by: uuid.UUID | None  # the granting co-owner, when an admin acts on its behalf
    effective_date: date | None  # default: today


@dataclass(frozen=True, slots=True)
class ReceivablesReport:
    as_of: date
    lines: list[Receivable]
    totals: dict[str, dict[str, int]]  # currency -> ageing bucket -> open amount
    unapplied_cash: dict[str, int]  # currency -> cash received but not matched to an invoice
    unapplied: list[UnappliedCash]  # each payment with cash no invoice had taken


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


@dataclass(frozen=True, slots=True)
class AppliedPart:
    invoice_id: uuid.UUID
    kind: RevenueKind
    amount: int


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    """Where a payment went: the invoices it paid (revenue), the invoice raised for it, and what is
    left unapplied (not revenue until an invoice takes it), with a warning saying so."""

    payment_id: uuid.UUID
    currency: str
    applied: list[AppliedPart]
    invoice_id: uuid.UUID | None  # raised by a receipt for what no invoice awaited
    unapplied: int
    warnings: list[str]

    @classmethod
    def of(cls, account: LicenseAccount, payment_id: uuid.UUID, invoice_id: uuid.UUID | None) -> ReceiptOutcome:
        payment = account.payments[payment_id]
        applied = [
            AppliedPart(s.invoice_id, account.invoices[s.invoice_id].kind, s.amount)
            for s in account.applied_from(payment_id)
        ]
        warnings = []
        if payment.unapplied:
            warnings.append(
                f"{payment.unapplied} {payment.currency} (minor units) of this payment matches no open invoice and "
                "stays unapplied cash: it is not revenue, and nobody is paid from it, until an invoice takes it "
                "(record it with POST /licenses/{id}/receipts and an uninvoiced_kind to invoice it at once)"
            )
        return cls(payment_id, payment.currency, applied, invoice_id, payment.unapplied, warnings)


@dataclass(frozen=True, slots=True)
class UnappliedCash:
    deal_id: uuid.UUID
    payment_id: uuid.UUID
    amount: Money
    received_on: date
    payer_reference: str


class CommercializationApplication(ServiceApplication):
    source = "commercialization"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        ownership: OwnershipLookup | None = None,
        reads: OwnershipRecord | None = None,
        snapshot_interval: int = 0,
    ) -> None:
        """`snapshot_interval` (`SNAPSHOT_INTERVAL`): snapshot each license account and royalty ledger,
        which live as long as their deal, every that many events (0: never)."""
        if snapshot_interval > 0:
            env = {**(env or {}), "IS_SNAPSHOTTING_ENABLED": "y"}
            # The library reads the intervals off the application; the setting is per process.
            intervals = {LicenseAccount: snapshot_interval, RoyaltyLedger: snapshot_interval}
            object.__setattr__(self, "snapshotting_intervals", intervals)
        super().__init__(env)
        self.ownership = ownership  # authoritative: the checks of a write
        self.reads = reads or (PointInTimeOwnership(ownership) if ownership is not None else None)

    def close(self) -> None:
        """Close the event store, and the lookups' connections where they hold any."""
        super().close()
        for lookup in (self.ownership, self.reads):
            close = getattr(lookup, "close", None)
            if callable(close):
                close()

    # -- licenses ----------------------------------------------------------------------

    def draft_license(
        self,
        ctx: CommandContext,
        licensee: str,
        asset_ids: Sequence[uuid.UUID],
        license_type: str,
        royalty_rate_bps: int = 0,
        **options: Unpack[LicenseOptions],
    ) -> uuid.UUID:
        """A draft by a co-owner of every asset; other licenses are not checked until it is submitted."""
        license = self._new_license(ctx, licensee, asset_ids, license_type, royalty_rate_bps, options)
        check_co_owner(license.granted_by, self._owners_by_asset(license.asset_ids, license.drafted_on))
        self._save(ctx, license)
        return license.id

    def submit_license(
        self, ctx: CommandContext, license_id: uuid.UUID, effective_date: date | None = None
    ) -> LicenseStatus:
        """Non-exclusive: granted at once. Exclusive or sole: pending every co-owner's consent."""
        license = self._license(license_id)
        acting_member(ctx.principal, license.granted_by)
        self._save(ctx, *self._submit(license, effective_date or date.today()))
        return license.status

    def grant_license(
        self,
        ctx: CommandContext,
        licensee: str,
        asset_ids: Sequence[uuid.UUID],
        license_type: str = "non_exclusive",
        royalty_rate_bps: int = 0,
        **options: Unpack[LicenseOptions],
    ) -> uuid.UUID:
        """Draft and submit in one transaction; returns the license id (see `status` for where it stands)."""
        license = self._new_license(ctx, licensee, asset_ids, license_type, royalty_rate_bps, options)
        self._save(ctx, *self._submit(license, license.drafted_on))
        return license.id

    def give_consent(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> LicenseStatus:
        license = self._license(license_id)
        day = effective_date or date.today()
        license.consent(acting_member(ctx.principal, member_id), day)
        self._save(ctx, license, *self._on_granted(license, day))
        return license.status

    def refuse_consent(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        reason: str,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> None:
        license = self._license(license_id)
        day = effective_date or date.today()
        license.refuse(acting_member(ctx.principal, member_id), reason, day)
        indexes = [self._index(a) for a in license.asset_ids]
        for index in indexes:
            index.release(license.id, day)
        self._save(ctx, license, *indexes)

    def amend_license(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        effective_date: date,
        *,
        end_date: date | None = None,
        open_ended: bool = False,
        field_of_use: str | None = None,
        territory: Sequence[str] | None = None,
        terms: RoyaltyTerms | None = None,
        note: str = "",
        member_id: uuid.UUID | None = None,
        fields: Sequence[str] | None = None,
    ) -> bool:
        """Amend from `effective_date`: what is not given stays as it is; True when in force now.
        Scope changes are checked for exclusivity like a new grant. An exclusive or sole license
        of several co-owners is amended once every one of them consents (`consent_to_amendment`)."""
        license = self._license(license_id)
        proposer, co_owners = self._ensure_owner_acts(ctx.principal, license, effective_date, member_id)
        in_force = license.amend(
            effective_date,
            end_date=None if open_ended else (end_date or license.end_date),
            field_of_use=field_of_use,
            fields=fields,
            territory=territory or None,
            terms=terms or license.terms,
            note=note,
            proposed_by=proposer,
            co_owners=sorted(co_owners, key=str),
        )
        self._save(ctx, license, *self._scope_checked(license, in_force))
        return in_force

    def consent_to_amendment(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> bool:
        """A co-owner consents to the amendment proposed; True when it is in force now."""
        license = self._license(license_id)
        in_force = license.consent_to_amendment(acting_member(ctx.principal, member_id), effective_date or date.today())
        self._save(ctx, license, *self._scope_checked(license, in_force))
        return in_force

    def refuse_amendment(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        reason: str,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> None:
        license = self._license(license_id)
        license.refuse_amendment(acting_member(ctx.principal, member_id), reason, effective_date or date.today())
        self._save(ctx, license)

    def _scope_checked(self, license: License, in_force: bool) -> list[AssetLicenses]:
        """The per-asset indexes with the license's new scope once an amendment is in force; while
        one waits for consent, its scope is checked (so no co-owner consents to what cannot be)."""
        if not in_force:
            proposed = license.proposed_footprint()
            assert proposed is not None
            self._check_exclusivity(proposed)
            return []
        indexes = self._check_exclusivity(license.footprint())
        for index in indexes:
            index.register(license.footprint())
        return indexes

    def terminate_license(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        reason: str,
        effective_date: date | None = None,
        member_id: uuid.UUID | None = None,
    ) -> None:
        license = self._license(license_id)
        day = effective_date or date.today()
        self._ensure_owner_acts(ctx.principal, license, day, member_id)
        license.terminate(reason, day)
        indexes = [self._index(a) for a in license.asset_ids]
        for index in indexes:
            index.register(license.footprint())  # the scope is free again after the termination date
        self._save(ctx, license, *indexes)

    def expire_license(self, ctx: CommandContext, license_id: uuid.UUID, as_of: date | None = None) -> None:
        """Record that the term ran out (the expiry worker, or finance): an active license
        whose end date lies before `as_of` (default today) expires as of its end date."""
        ensure_finance(ctx.principal)
        license = self._license(license_id)
        license.expire(as_of or date.today())
        self._save(ctx, license)

    def license_terms_after(self, position: int, limit: int) -> list[tuple[int, uuid.UUID, date | None, bool]]:
        """(position, license id, end date, still running) of each grant, amendment, termination
        and expiry recorded after a log position, oldest first: what the expiry worker follows."""
        kinds = (License.Granted, License.Amended, License.Terminated, License.Expired)
        notifications = self.recorder.select_notifications(
            position, limit, topics=[get_topic(k) for k in kinds], inclusive_of_start=False
        )
        found = []
        for notification in notifications:
            change = self.mapper.to_domain_event(notification)
            if isinstance(change, License.Granted | License.Amended):
                found.append((notification.id, change.originator_id, change.end_date, True))
            else:
                found.append((notification.id, change.originator_id, None, False))
        return found

    def report_milestone(
        self, ctx: CommandContext, license_id: uuid.UUID, milestone: str, effective_date: date | None = None
    ) -> uuid.UUID:
        """The licensee reached a named milestone: its payment is invoiced. Returns the invoice id."""
        license = self._license(license_id)
        day = effective_date or date.today()
        self._ensure_submits_reports(ctx.principal, license, day)
        license.report_milestone(milestone, str(ctx.principal), day)
        terms = license.terms_on(day)
        account = self._account(license.id, license.asset_ids)
        invoice_id = account.issue_invoice(
            RevenueKind.MILESTONE,
            terms.milestone(milestone),
            day,
            terms.payment_days,
            f"milestone:{milestone}",
            terms.asset_split_bps,
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
        day = effective_date or date.today()
        self._ensure_submits_reports(ctx.principal, license, day)
        self._require_active(license)
        if not license.sublicensing_allowed:
            raise DomainError("this license does not allow sublicensing", license_id=str(license_id))
        terms = license.terms_on(day)
        share = basis_points_of(money(income, currency).amount, terms.sublicense_share_bps)
        if share <= 0:
            return None
        account = self._account(license.id, license.asset_ids)
        invoice_id = account.issue_invoice(
            RevenueKind.SUBLICENSE,
            money(share, currency),
            day,
            terms.payment_days,
            f"sublicense:{sublicensee}:{uuid.uuid4()}",
            terms.asset_split_bps,
        )
        self._save(ctx, account)
        return invoice_id

    def invoice_patent_costs(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        amount: int,
        currency: str,
        description: str,
        effective_date: date | None = None,
    ) -> uuid.UUID:
        ensure_finance(ctx.principal)
        license = self._license(license_id)
        day = effective_date or date.today()
        terms = license.terms_on(day)
        if not terms.patent_cost_reimbursement:
            raise DomainError("the terms do not provide for patent-cost reimbursement", license_id=str(license_id))
        account = self._account(license.id, license.asset_ids)
        invoice_id = account.issue_invoice(
            RevenueKind.COST_REIMBURSEMENT,
            money(amount, currency),
            day,
            terms.payment_days,
            f"patent-costs:{description}:{uuid.uuid4()}",
            terms.asset_split_bps,
        )
        self._save(ctx, account)
        return invoice_id

    def invoice_maintenance_fee(
        self, ctx: CommandContext, license_id: uuid.UUID, license_year: int, effective_date: date | None = None
    ) -> uuid.UUID:
        """The annual maintenance fee of one license year (once per year)."""
        ensure_finance(ctx.principal)
        license = self._license(license_id)
        self._require_active(license)
        start, _ = license_year_bounds(license.start_date, license_year)
        terms = license.terms_on(start)
        if terms.annual_maintenance_fee <= 0:
            raise DomainError("the terms carry no annual maintenance fee", license_id=str(license_id))
        account = self._account(license.id, license.asset_ids)
        invoice_id = account.issue_invoice(
            RevenueKind.MAINTENANCE,
            money(terms.annual_maintenance_fee, terms.currency),
            effective_date or date.today(),
            terms.payment_days,
            f"maintenance:{license_year}",
            terms.asset_split_bps,
        )
        self._save(ctx, account)
        return invoice_id

    # -- royalty reports -------------------------------------------------------------------

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
        day = effective_date or date.today()
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
        day = effective_date or date.today()
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

    # -- payments --------------------------------------------------------------------------

    def record_payment(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        amount: int,
        currency: str,
        received_date: date,
        payer_reference: str,
        invoice_ids: Sequence[uuid.UUID] = (),
    ) -> uuid.UUID:
        """Cash received for a license (or an assignment: pass its id), matched to invoices."""
        ensure_finance(ctx.principal)
        account = self._existing_account(license_id)
        payment_id = account.receive_payment(money(amount, currency), received_date, payer_reference, invoice_ids)
        self._save(ctx, account)
        return payment_id

    def record_receipt(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        amount: int,
        currency: str,
        received_date: date,
        payer_reference: str,
        uninvoiced_kind: str | None = None,
        invoice_ids: Sequence[uuid.UUID] = (),
    ) -> ReceiptOutcome:
        """Money received on a license, in one call: matched to its open invoices and, with
        `uninvoiced_kind`, what no invoice awaited is invoiced as that kind and paid at once."""
        ensure_finance(ctx.principal)
        license = self._license(license_id)
        kind = _revenue_kind(uninvoiced_kind) if uninvoiced_kind else None
        terms = license.terms_on(received_date)
        account = self._existing_account(license_id)
        payment_id, invoice_id = account.receive_receipt(
            money(amount, currency), received_date, payer_reference, kind, terms.payment_days, invoice_ids,
            terms.asset_split_bps,
        )  # fmt: skip
        self._save(ctx, account)
        return ReceiptOutcome.of(account, payment_id, invoice_id)

    def payment_outcome(self, ctx: CommandContext, deal_id: uuid.UUID, payment_id: uuid.UUID) -> ReceiptOutcome:
        account = self.get_account(ctx, deal_id)
        if payment_id not in account.payments:
            raise NotFound("no such payment on this account", payment_id=str(payment_id))
        return ReceiptOutcome.of(account, payment_id, None)

    # -- assignments -----------------------------------------------------------------------

    def propose_assignment(
        self,
        ctx: CommandContext,
        asset_id: uuid.UUID,
        assignee: str,
        proceeds: int,
        currency: str,
        *,
        assignee_member_id: uuid.UUID | None = None,
        proposed_by: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> uuid.UUID:
        """Sell an asset: every co-owner must consent; then proceeds are invoiced and the
        ownership transfer is requested from the IP registry."""
        day = effective_date or date.today()
        assignment = Assignment.propose(
            asset_id=asset_id,
            assignee=assignee,
            proceeds=money(proceeds, currency),
            proposed_by=acting_member(ctx.principal, proposed_by),
            owners=self._owners_by_asset([asset_id], day)[asset_id],
            effective_date=day,
            assignee_member_id=assignee_member_id,
        )
        self._save(ctx, assignment, *self._on_agreed(assignment, day))
        return assignment.id

    def consent_to_assignment(
        self,
        ctx: CommandContext,
        assignment_id: uuid.UUID,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> AssignmentStatus:
        assignment = self._get(Assignment, assignment_id)
        day = effective_date or date.today()
        assignment.consent(acting_member(ctx.principal, member_id), day)
        self._save(ctx, assignment, *self._on_agreed(assignment, day))
        return assignment.status

    def refuse_assignment(
        self,
        ctx: CommandContext,
        assignment_id: uuid.UUID,
        reason: str,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> None:
        assignment = self._get(Assignment, assignment_id)
        assignment.refuse(acting_member(ctx.principal, member_id), reason, effective_date or date.today())
        self._save(ctx, assignment)

    def complete_ownership_transfer(
        self, ctx: CommandContext, assignment_id: uuid.UUID, outcome: TransferOutcome
    ) -> bool:
        """Record the IP registry's answer to the transfer request; False when already recorded."""
        if ctx.principal.role not in _RECORDS_TRANSFER_ANSWERS:
            raise Forbidden("only the transfer dispatcher records the registry's answer", role=ctx.principal.role)
        assignment = self._get(Assignment, assignment_id)
        changed = assignment.complete_transfer(outcome)
        if changed:
            self._save(ctx, assignment)
        return changed

    def refuse_ownership_transfer(
        self, ctx: CommandContext, assignment_id: uuid.UUID, request_id: uuid.UUID, code: str, reason: str
    ) -> bool:
        """Record that the IP registry refused the transfer request (terminal); False when already recorded."""
        if ctx.principal.role not in _RECORDS_TRANSFER_ANSWERS:
            raise Forbidden("only the transfer dispatcher records the registry's answer", role=ctx.principal.role)
        assignment = self._get(Assignment, assignment_id)
        day = date.today()
        changed = assignment.refuse_transfer(request_id, code, reason, day)
        if changed:
            self._save(ctx, assignment, *self._on_transfer_refused(assignment, day))
        return changed

    def transfer_requests_after(self, position: int, limit: int) -> list[RequestedTransfer]:
        """Transfer requests recorded after a log position, with their positions and actors, oldest first."""
        topics = [get_topic(Assignment.OwnershipTransferRequested)]
        notifications = self.recorder.select_notifications(position, limit, topics=topics, inclusive_of_start=False)
        found = []
        for notification in notifications:
            requested, meta = self.metadata_mapper.decode(notification)
            assert isinstance(requested, Assignment.OwnershipTransferRequested)
            found.append(RequestedTransfer(notification.id, requested, Attribution.of(meta).actor))
        return found

    # -- queries ---------------------------------------------------------------------------

    def get_license(self, ctx: CommandContext, license_id: uuid.UUID) -> License:
        license = self._license(license_id)
        self._ensure_reads(ctx.principal, license)
        return license

    def licenses_on_asset(self, ctx: CommandContext, asset_id: uuid.UUID) -> list[License]:
        """Pending, active and ended licenses on an asset (refused ones are dropped); a member
        that ever owned the asset sees those it may read (`member_reads`)."""
        licenses = [self._license(i) for i in self._index(asset_id).license_ids()]
        if ctx.principal.reads_everything:
            return licenses
        member = ctx.principal.member_id
        if ctx.principal.role is not Role.MEMBER or member not in self._owners_ever(asset_id):
            raise Forbidden("members read only licenses on assets they own", role=ctx.principal.role)
        return [license for license in licenses if self.member_reads(member, license)]

    def get_assignment(self, ctx: CommandContext, assignment_id: uuid.UUID) -> Assignment:
        assignment = self._get(Assignment, assignment_id)
        ensure_reads_license(ctx.principal, assignment.owners)
        return assignment

    def get_account(self, ctx: CommandContext, license_id: uuid.UUID) -> LicenseAccount:
        account = self._existing_account(license_id)
        if not ctx.principal.reads_everything:
            try:
                license = self._license(license_id)
            except NotFound:  # an assignment's account: its sellers read it
                ensure_reads_license(ctx.principal, self._get(Assignment, license_id).owners.keys())
            else:
                self._ensure_reads(ctx.principal, license)
        return account

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

    def member_reads(self, member_id: uuid.UUID, license: License, today: date | None = None) -> bool:
        """Whether a member reads a license, its reports and its account: the member that granted
        it does, and so does every member that owns one of its assets today or owned one on any
        day of the term so far (a former co-owner keeps reading the deal it was paid from)."""
        if member_id == license.granted_by:
            return True
        today = today or date.today()
        reads = self._reads()
        last = min(license.last_day or today, today)
        return any(
            member_id in reads.owners_during(asset_id, today, today)
            or member_id in reads.owners_during(asset_id, license.start_date, last)
            for asset_id in license.asset_ids
        )

    def receivables(
        self,
        ctx: CommandContext,
        as_of: date | None = None,
        license_ids: Iterable[uuid.UUID] | None = None,
        known_at: datetime | None = None,
    ) -> ReceivablesReport:
        """Open invoices with their ageing on `as_of` (default today), across all accounts (or the
        given deals), by what was dated by then; with `known_at`, only what was recorded by that
        time too (the report as it could be printed then)."""
        ensure_reads_everything(ctx.principal)
        day = as_of or date.today()
        ids = list(license_ids) if license_ids is not None else self._all_account_deal_ids()
        if known_at is None:
            accounts = [self._existing_account(i) for i in ids]
        else:
            accounts = [a for a in (self._account_known_at(i, known_at) for i in ids) if a is not None]
        lines = [line for account in accounts for line in account.receivables(day)]
        totals: dict[str, dict[str, int]] = {}
        for line in lines:
            by_bucket = totals.setdefault(line.open_amount.currency, dict.fromkeys(AGEING_BUCKETS, 0))
            by_bucket[line.bucket] += line.open_amount.amount
        unapplied: dict[str, int] = {}
        for account in accounts:
            for currency, amount in account.unapplied_cash(day).items():
                unapplied[currency] = unapplied.get(currency, 0) + amount
        cash = [
            UnappliedCash(account.license_id, p.payment_id, Money(amount, p.currency), p.received_on, p.payer_reference)
            for account in accounts
            for p, amount in account.unapplied_payments(day)
        ]
        cash.sort(key=lambda c: (c.received_on, str(c.payment_id)))
        lines.sort(key=lambda r: (r.due_date, str(r.invoice_id)))
        return ReceivablesReport(day, lines, totals, unapplied, cash)

    def _account_known_at(self, deal_id: uuid.UUID, known_at: datetime) -> LicenseAccount | None:
        """The account as recorded by `known_at` (None: not opened by then)."""
        if known_at.tzinfo is None:
            known_at = known_at.replace(tzinfo=UTC)  # stored events are stamped in UTC
        account_id = LicenseAccount.create_id(deal_id)
        known = [
            e.originator_version
            for e in self.events.get(account_id)
            if isinstance(e, Aggregate.Event) and e.timestamp <= known_at
        ]
        if not known:
            self._existing_account(deal_id)  # a 404 for a deal with no account at all
            return None
        account: LicenseAccount = self.repository.get(account_id, version=max(known))
        return account

    # -- helpers ---------------------------------------------------------------------------

    def _new_license(
        self,
        ctx: CommandContext,
        licensee: str,
        asset_ids: Sequence[uuid.UUID],
        license_type: str,
        royalty_rate_bps: int,
        options: LicenseOptions,
    ) -> License:
        day = options.get("effective_date") or date.today()
        terms = options.get("terms") or RoyaltyTerms.flat(options.get("currency", "CNY"), royalty_rate_bps)
        return License.draft(
            licensee=licensee,
            asset_ids=list(asset_ids),
            license_type=license_type,
            start_date=options.get("start_date") or day,
            end_date=options.get("end_date"),
            terms=terms,
            granted_by=acting_member(ctx.principal, options.get("granted_by")),
            effective_date=day,
            field_of_use=options.get("field_of_use"),
            fields=options.get("fields", ()),
            territory=options.get("territory", (WORLDWIDE,)),
            sublicensing_allowed=options.get("sublicensing_allowed", False),
            licensee_kind=options.get("licensee_kind", "external"),
            spin_off_id=options.get("spin_off_id"),
            cross_license_assets=options.get("cross_license_assets", ()),
        )

    def _submit(self, license: License, day: date) -> list[Aggregate]:
        """Check exclusivity against the per-asset indexes, submit, and register the license."""
        owners = self._owners_by_asset(license.asset_ids, day)
        indexes = self._check_exclusivity(license.footprint())
        license.submit(owners, day)
        for index in indexes:
            index.register(license.footprint())
        return [license, *indexes, *self._on_granted(license, day)]

    def _check_exclusivity(self, candidate: Footprint) -> list[AssetLicenses]:
        indexes = [self._index(a) for a in sorted(candidate.asset_ids, key=str)]
        existing = {f.license_id: f for index in indexes for f in index.footprints()}
        conflict = find_conflict(candidate, existing.values())
        if conflict is not None:
            raise Conflict(
                "the license overlaps an exclusive or sole license",
                conflicting_license_id=str(conflict.license_id),
                conflicting_license_type=conflict.license_type.value,
                overlap=conflict.overlap.describe(),
            )
        return indexes

    def _on_granted(self, license: License, day: date) -> list[Aggregate]:
        """Once active: open the account and invoice the upfront fee."""
        if license.status is not LicenseStatus.ACTIVE or license.granted_on != day:
            return []
        account = self._account(license.id, license.asset_ids)
        terms = license.terms
        if terms.upfront_fee > 0 and not account.has_reference("upfront"):
            account.issue_invoice(
                RevenueKind.UPFRONT,
                money(terms.upfront_fee, terms.currency),
                day,
                terms.payment_days,
                "upfront",
                terms.asset_split_bps,
            )
        return [account]

    def _on_agreed(self, assignment: Assignment, day: date) -> list[Aggregate]:
        if assignment.status is not AssignmentStatus.AGREED or assignment.agreed_on != day:
            return []
        account = self._account(assignment.id, [assignment.asset_id])
        if assignment.proceeds.amount > 0 and not account.has_reference("assignment"):
            account.issue_invoice(RevenueKind.ASSIGNMENT, assignment.proceeds, day, 30, "assignment")
        return [account]

    def _on_transfer_refused(self, assignment: Assignment, day: date) -> list[Aggregate]:
        """The sale will not happen: a credit note clears what its invoice still awaits. (Proceeds
        already paid stay recorded as received: refunding them is finance's, outside the account.)"""
        account = self._existing_account(assignment.id)  # opened when the sale was agreed
        invoice_id = account.invoice_for("assignment")
        if invoice_id is None or account.invoices[invoice_id].open_amount <= 0:
            return []  # no proceeds, or paid already
        invoice = account.invoices[invoice_id]
        still_due = Money(invoice.open_amount, invoice.currency)
        reason = "transfer refused by the registry"
        account.issue_credit_note(RevenueKind.ASSIGNMENT, still_due, day, reason, invoice_id)
        return [account]

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

    def _ensure_reads(self, principal: Principal, license: License) -> None:
        if principal.reads_everything:  # no ownership asked: whoever owns the assets now
            return
        member = principal.member_id if principal.role is Role.MEMBER else None
        if member is None or not self.member_reads(member, license):
            raise Forbidden("members read only licenses on assets they own", role=principal.role)

    def _ensure_submits_reports(self, principal: Principal, license: License, day: date) -> None:
        if principal.role not in _BOOKKEEPERS:  # finance reports whoever owns the assets now
            ensure_submits_reports(principal, self._owners_of(license, day))

    def _owners_ever(self, asset_id: uuid.UUID) -> set[uuid.UUID]:
        return self._reads().owners_during(asset_id, date.min, date.max)

    def _reads(self) -> OwnershipRecord:
        if self.reads is None:
            raise DomainError("no ownership lookup is configured: cannot check ownership against the IP registry")
        return self.reads

    def _ensure_owner_acts(
        self, principal: Principal, license: License, day: date, member_id: uuid.UUID | None
    ) -> tuple[uuid.UUID, set[uuid.UUID]]:
        """The acting member and every owner of the licensed assets that day; Forbidden unless one is the other."""
        member = acting_member(principal, member_id)
        owners = self._owners_of(license, day)
        if member not in owners:
            raise Forbidden("only a co-owner of the licensed assets changes the license", member_id=str(member))
        return member, owners

    def _require_active(self, license: License) -> None:
        if license.status is not LicenseStatus.ACTIVE:
            raise Conflict(f"the license is {license.status}", license_id=str(license.id), status=license.status)

    def _owners_by_asset(self, asset_ids: Iterable[uuid.UUID], day: date) -> dict[uuid.UUID, Owners]:
        if self.ownership is None:
            raise DomainError("no ownership lookup is configured: cannot check ownership against the IP registry")
        found: dict[uuid.UUID, Owners] = {}
        for asset_id in asset_ids:
            owners = dict(self.ownership.owners_as_of(asset_id, day))
            if not owners:
                raise NotFound("the IP registry knows no owners of this asset on that day", asset_id=str(asset_id))
            found[asset_id] = owners
        return found

    def _owners_of(self, license: License, day: date) -> set[uuid.UUID]:
        """Who may act on a license as an owner that day (nobody, for an asset without owners)."""
        if self.ownership is None:
            raise DomainError("no ownership lookup is configured: cannot check ownership against the IP registry")
        found: set[uuid.UUID] = set()
        for asset_id in license.asset_ids:
            with contextlib.suppress(NotFound):
                found.update(m for m, share in self.ownership.owners_as_of(asset_id, day).items() if share > 0)
        return found

    def _get(self, cls: type[A], aggregate_id: uuid.UUID) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"no such {cls.__name__.lower()}", id=str(aggregate_id)) from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no such {cls.__name__.lower()}", id=str(aggregate_id))
        return aggregate

    def _get_or_create(self, cls: type[A], aggregate_id: uuid.UUID, create: Any) -> A:
        try:
            return self._get(cls, aggregate_id)
        except NotFound:
            created: A = create()
            return created

    def _license(self, license_id: uuid.UUID) -> License:
        return self._get(License, license_id)

    def _index(self, asset_id: uuid.UUID) -> AssetLicenses:
        return self._get_or_create(AssetLicenses, AssetLicenses.create_id(asset_id), lambda: AssetLicenses(asset_id))

    def _ledger(self, license_id: uuid.UUID) -> RoyaltyLedger:
        return self._get_or_create(
            RoyaltyLedger, RoyaltyLedger.create_id(license_id), lambda: RoyaltyLedger(license_id)
        )

    def _account(self, deal_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]) -> LicenseAccount:
        return self._get_or_create(
            LicenseAccount, LicenseAccount.create_id(deal_id), lambda: LicenseAccount(deal_id, list(asset_ids))
        )

    def _existing_account(self, deal_id: uuid.UUID) -> LicenseAccount:
        try:
            return self._get(LicenseAccount, LicenseAccount.create_id(deal_id))
        except NotFound:
            raise NotFound(
                "no account: the license is not granted or the assignment not agreed", id=str(deal_id)
            ) from None

    def _all_account_deal_ids(self) -> list[uuid.UUID]:
        # Until a read model lists accounts, find them in the notification log.
        topic = get_topic(LicenseAccount.Opened)
        ids: list[uuid.UUID] = []
        position = 0
        while batch := self.recorder.select_notifications(position, 1000, topics=[topic], inclusive_of_start=False):
            for notification in batch:
                opened = self.mapper.to_domain_event(notification)
                assert isinstance(opened, LicenseAccount.Opened)
                ids.append(opened.license_id)
            position = batch[-1].id
        return ids

    def _save(self, ctx: CommandContext, *aggregates: Aggregate) -> None:
        # A version clash (IntegrityError) goes up: the HTTP layer runs the command again.
        self.record(ctx, *aggregates)


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


def _revenue_kind(value: str) -> RevenueKind:
    try:
        return RevenueKind(value)
    except ValueError:
        kinds = [k.value for k in RevenueKind]
        raise DomainError(f"unknown revenue kind {value!r}", uninvoiced_kind=value, kinds=kinds) from None
