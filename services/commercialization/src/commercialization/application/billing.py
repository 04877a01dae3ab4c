"""Billing: invoices finance raises, the payments and receipts that settle them, and receivables.

Every deal (a license, or an assignment) has a `LicenseAccount` of invoices, credit notes
and payments; cash received is matched to open invoices, and what none awaited stays
unapplied (not revenue) until an invoice takes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from commercialization.application.store import DealStore, money
from commercialization.domain.account import AGEING_BUCKETS, LicenseAccount, Receivable, RevenueKind
from commercialization.domain.assignment import Assignment
from commercialization.domain.royalty import license_year_bounds
from commercialization.permissions import ensure_finance, ensure_reads_everything, ensure_reads_license
from ipshare.eventstore import CommandContext
from ipshare.permissions import Permission, may
from ipshare_kernel.errors import DomainError, NotFound
from ipshare_kernel.money import Money


@dataclass(frozen=True, slots=True)
class ReceivablesReport:
    as_of: date
    lines: list[Receivable]
    totals: dict[str, dict[str, int]]  # currency -> ageing bucket -> open amount
    unapplied_cash: dict[str, int]  # currency -> cash received but not matched to an invoice
    unapplied: list[UnappliedCash]  # each payment with cash no invoice had taken


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


class Billing(DealStore):
    """Finance's invoices and payments on a deal's account; accounts read as their deal is read."""

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
        day = effective_date or self.clock.today()
        terms = license.terms_on(day)
        if not terms.patent_cost_reimbursement:
            raise DomainError("the terms do not provide for patent-cost reimbursement", license_id=str(license_id))
        account, invoice_id = self._invoice_licensee(
            license, terms, RevenueKind.COST_REIMBURSEMENT, money(amount, currency), day,
            f"patent-costs:{description}:{uuid.uuid4()}",
        )  # fmt: skip
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
        account, invoice_id = self._invoice_licensee(
            license, terms, RevenueKind.MAINTENANCE, money(terms.annual_maintenance_fee, terms.currency),
            effective_date or self.clock.today(), f"maintenance:{license_year}",
        )  # fmt: skip
        self._save(ctx, account)
        return invoice_id

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

    def get_account(self, ctx: CommandContext, license_id: uuid.UUID) -> LicenseAccount:
        account = self._existing_account(license_id)
        if not may(ctx.principal, Permission.READ_EVERYTHING):
            try:
                license = self._license(license_id)
            except NotFound:  # an assignment's account: its sellers read it
                ensure_reads_license(ctx.principal, self._get(Assignment, license_id).owners.keys())
            else:
                self._ensure_reads(ctx.principal, license)
        return account

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
        day = as_of or self.clock.today()
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


def _revenue_kind(value: str) -> RevenueKind:
    try:
        return RevenueKind(value)
    except ValueError:
        kinds = [k.value for k in RevenueKind]
        raise DomainError(f"unknown revenue kind {value!r}", uninvoiced_kind=value, kinds=kinds) from None
