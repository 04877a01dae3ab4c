"""Receivables of one deal (a license or an assignment): invoices, credit notes, payments.

Matching rules:
- A payment goes first to the invoices it names, then to the oldest open invoices
  (by due date, then issue order) in its currency; what is left is unapplied cash.
- A new invoice first takes unapplied credit (from credit notes), then unapplied
  cash, oldest first.
- Every part of a payment applied to an invoice is a `RevenueReceived` event: the
  cash, its kind (the invoice's), the assets and, where the terms split revenue
  across assets, each asset's part (largest remainder, so parts sum exactly). Its
  effective date is the day the cash was received, whenever it is matched.
- A credit note reduces the open balance of its invoice. What it credits beyond that,
  up to what was paid on the invoice, takes revenue back: a `RevenueRefunded` event
  (negative income) per payment, newest first, for the invoice's kind and assets, dated
  the credit note's day. That cash is unapplied again: it pays the oldest open invoices
  at once, then the next invoices (a new `RevenueReceived`, dated no earlier than the
  refund), unless finance refunds it. Any excess left becomes credit that later
  invoices use. Credit is not cash: using it emits no revenue.

As of a past day, the account is what was dated by then: invoices issued, cash received
and credit notes issued on or before it. Each part of a payment or credit applied to an
invoice (a settlement) is dated the later of the cash's (or credit note's) date and the
invoice's issue date, so a payment received after that day still leaves the invoice open
as of that day, and cash received before an invoice is unapplied until the invoice exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from commercialization.domain.license import NAMESPACE
from commercialization.domain.snapshots import EncodedSnapshot
from ipshare_kernel.errors import Conflict, DomainError, NotFound
from ipshare_kernel.money import CurrencyError, Money, allocate, check_currency


class RevenueKind(StrEnum):
    UPFRONT = "upfront"
    MAINTENANCE = "maintenance"
    ROYALTY = "royalty"
    MILESTONE = "milestone"
    SUBLICENSE = "sublicense"
    MINIMUM_TRUE_UP = "minimum_true_up"
    ASSIGNMENT = "assignment"
    COST_REIMBURSEMENT = "cost_reimbursement"


AGEING_BUCKETS = ("current", "30", "60", "90+")


def ageing_bucket(due_date: date, as_of: date) -> str:
    """By days past the due date: under 30 (or not yet due) is current, then 30-59, 60-89, 90+."""
    overdue = (as_of - due_date).days
    if overdue < 30:
        return "current"
    if overdue < 60:
        return "30"
    if overdue < 90:
        return "60"
    return "90+"


def split_across_assets(amount: int, split_bps: Mapping[str, int]) -> list[dict[str, Any]]:
    """Each asset's part of `amount`, exact; empty when the terms state no split."""
    if not split_bps or not any(split_bps.values()):
        return []
    # str keys sort fine; allocate's protocol types `__lt__` with an `object` argument, which str does not match.
    parts = allocate(amount, dict(split_bps))
    return [{"asset_id": asset, "amount": part} for asset, part in parts.items()]


@dataclass(slots=True)
class Invoice:
    invoice_id: uuid.UUID
    kind: RevenueKind
    amount: int
    currency: str
    issued_on: date
    due_date: date
    reference: str
    sequence: int
    asset_split: dict[str, int]
    paid: int = 0
    credited: int = 0

    @property
    def open_amount(self) -> int:
        return self.amount - self.paid - self.credited


@dataclass(slots=True)
class Payment:
    payment_id: uuid.UUID
    amount: int
    currency: str
    received_on: date
    payer_reference: str
    applied: int = 0
    refunded_on: date | None = None  # the last day revenue paid by it was taken back

    @property
    def unapplied(self) -> int:
        return self.amount - self.applied

    @property
    def available_on(self) -> date:
        """From when its unapplied cash counts as received (a refund frees cash on its own day)."""
        return self.received_on if self.refunded_on is None else max(self.received_on, self.refunded_on)


@dataclass(slots=True)
class Credit:
    credit_note_id: uuid.UUID
    amount: int
    currency: str
    issued_on: date
    reference: str = ""
    used: int = 0

    @property
    def unused(self) -> int:
        return self.amount - self.used


@dataclass(frozen=True, slots=True)
class Settlement:
    """Part of a payment (cash) or of a credit note applied to an invoice, and the day it took effect."""

    invoice_id: uuid.UUID
    source_id: uuid.UUID  # the payment or the credit note
    cash: bool
    amount: int
    on: date


@dataclass(frozen=True, slots=True)
class Receivable:
    deal_id: uuid.UUID
    invoice_id: uuid.UUID
    kind: RevenueKind
    reference: str
    open_amount: Money
    issued_on: date
    due_date: date
    bucket: str


class LicenseAccount(Aggregate):
    Snapshot = EncodedSnapshot  # an account lives as long as its deal: `SNAPSHOT_INTERVAL` snapshots it

    class Opened(Aggregate.Created):
        license_id: uuid.UUID  # the license, or the assignment, the account bills
        asset_ids: list[uuid.UUID]

    class InvoiceIssued(Aggregate.Event):
        license_id: uuid.UUID
        invoice_id: uuid.UUID
        kind: str
        amount: dict[str, Any]
        due_date: date
        reference: str
        asset_ids: list[uuid.UUID]
        asset_split: list[dict[str, Any]]
        effective_date: date

    class CreditNoteIssued(Aggregate.Event):
        license_id: uuid.UUID
        credit_note_id: uuid.UUID
        invoice_id: str  # the invoice it corrects, or empty
        kind: str
        amount: dict[str, Any]
        reference: str
        effective_date: date

    class PaymentReceived(Aggregate.Event):
        license_id: uuid.UUID
        payment_id: uuid.UUID
        amount: dict[str, Any]
        payer_reference: str
        effective_date: date

    class RevenueReceived(Aggregate.Event):
        license_id: uuid.UUID
        asset_ids: list[uuid.UUID]
        kind: str
        amount: dict[str, Any]
        effective_date: date
        payer_reference: str
        payment_id: uuid.UUID
        invoice_id: uuid.UUID
        asset_splits: list[dict[str, Any]]

    class RevenueRefunded(Aggregate.Event):
        """Revenue taken back by a credit note on a paid invoice: negative income."""

        license_id: uuid.UUID
        asset_ids: list[uuid.UUID]
        kind: str
        amount: dict[str, Any]  # positive: what is taken back
        effective_date: date
        payer_reference: str
        payment_id: uuid.UUID
        invoice_id: uuid.UUID
        credit_note_id: uuid.UUID
        asset_splits: list[dict[str, Any]]

    class CreditApplied(Aggregate.Event):
        license_id: uuid.UUID
        credit_note_id: uuid.UUID
        invoice_id: uuid.UUID
        amount: dict[str, Any]
        effective_date: date

    @staticmethod
    def create_id(license_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"account/{license_id}")

    @event(Opened)
    def __init__(self, license_id: uuid.UUID, asset_ids: list[uuid.UUID]) -> None:
        self.license_id = license_id
        self.asset_ids = list(asset_ids)
        self.invoices: dict[uuid.UUID, Invoice] = {}
        self.payments: dict[uuid.UUID, Payment] = {}
        self.credits: dict[uuid.UUID, Credit] = {}
        self.settlements: list[Settlement] = []
        self.references: set[str] = set()

    @classmethod
    def encode_snapshot(cls, state: dict[str, Any]) -> dict[str, Any]:
        """The account's state as plain JSON values (see `snapshots.py`)."""
        return {
            **state,
            "invoices": [{**asdict(i), "kind": i.kind.value} for i in state["invoices"].values()],
            "payments": [asdict(p) for p in state["payments"].values()],
            "credits": [asdict(c) for c in state["credits"].values()],
            "settlements": [asdict(s) for s in state["settlements"]],
            "references": sorted(state["references"]),
        }

    @classmethod
    def decode_snapshot(cls, state: dict[str, Any]) -> dict[str, Any]:
        invoices = [Invoice(**{**i, "kind": RevenueKind(i["kind"])}) for i in state["invoices"]]
        return {
            **state,
            "invoices": {i.invoice_id: i for i in invoices},
            "payments": {p["payment_id"]: Payment(**p) for p in state["payments"]},
            "credits": {c["credit_note_id"]: Credit(**c) for c in state["credits"]},
            "settlements": [Settlement(**s) for s in state["settlements"]],
            "references": set(state["references"]),
        }

    # -- queries ----------------------------------------------------------------

    def open_invoices(self, currency: str) -> list[Invoice]:
        found = [i for i in self.invoices.values() if i.currency == currency and i.open_amount > 0]
        return sorted(found, key=lambda i: (i.due_date, i.sequence))

    def unapplied_cash(self, as_of: date | None = None) -> dict[str, int]:
        """Per currency: cash received (by `as_of`) that no invoice had taken (by then)."""
        if as_of is None:
            return _sum_by_currency((p.currency, p.unapplied) for p in self.payments.values())
        return _sum_by_currency((p.currency, amount) for p, amount in self.unapplied_payments(as_of))

    def open_amount_as_of(self, invoice: Invoice, as_of: date) -> int:
        """What the invoice still awaited on `as_of` (0 before it was issued)."""
        if invoice.issued_on > as_of:
            return 0
        settled = sum(s.amount for s in self._settled_by(as_of) if s.invoice_id == invoice.invoice_id)
        return invoice.amount - settled

    def _settled_by(self, as_of: date) -> list[Settlement]:
        return [s for s in self.settlements if s.on <= as_of]

    def unused_credit(self) -> dict[str, int]:
        return _sum_by_currency((c.currency, c.unused) for c in self.credits.values())

    def open_balance(self) -> dict[str, int]:
        """Per currency: what the invoices still await (after payments and credit notes)."""
        return _sum_by_currency((i.currency, i.open_amount) for i in self.invoices.values())

    def receivables(self, as_of: date) -> list[Receivable]:
        """The invoices open on `as_of`, by what was dated by then (see the module's docstring)."""
        found = []
        for invoice in sorted(self.invoices.values(), key=lambda i: (i.due_date, i.sequence)):
            open_amount = self.open_amount_as_of(invoice, as_of)
            if open_amount > 0:
                found.append(
                    Receivable(
                        self.license_id, invoice.invoice_id, invoice.kind, invoice.reference,
                        Money(open_amount, invoice.currency), invoice.issued_on, invoice.due_date,
                        ageing_bucket(invoice.due_date, as_of),
                    )
                )  # fmt: skip
        return found

    def has_reference(self, reference: str) -> bool:
        return reference in self.references

    def invoice_for(self, reference: str) -> uuid.UUID | None:
        return next((i.invoice_id for i in self.invoices.values() if i.reference == reference), None)

    def credit_note_for(self, reference: str) -> uuid.UUID | None:
        return next((c.credit_note_id for c in self.credits.values() if c.reference == reference), None)

    # -- commands ---------------------------------------------------------------

    def issue_invoice(
        self,
        kind: RevenueKind,
        amount: Money,
        issued_on: date,
        payment_days: int,
        reference: str,
        asset_split_bps: Mapping[str, int] | None = None,
        invoice_id: uuid.UUID | None = None,
        settle: bool = True,
    ) -> uuid.UUID:
        """Invoice `amount`; unless `settle` is False, unused credit and then unapplied cash pay it."""
        if amount.amount <= 0:
            raise DomainError("an invoice is for a positive amount", amount=str(amount))
        if reference in self.references:
            raise Conflict("this was already invoiced", reference=reference)
        invoice_id = invoice_id or uuid.uuid4()
        self._invoice_issued(
            license_id=self.license_id,
            invoice_id=invoice_id,
            kind=kind.value,
            amount=_money(amount.amount, amount.currency),
            due_date=issued_on + timedelta(days=payment_days),
            reference=reference,
            asset_ids=list(self.asset_ids),
            asset_split=[{"asset_id": a, "share_bps": s} for a, s in sorted((asset_split_bps or {}).items())],
            effective_date=issued_on,
        )
        if settle:
            self._settle_from_credit(self.invoices[invoice_id], issued_on)
            self._settle_from_cash(self.invoices[invoice_id])
        return invoice_id

    def issue_credit_note(
        self, kind: RevenueKind, amount: Money, issued_on: date, reference: str, invoice_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        """Credit `amount`: first off the named invoice's open balance, the rest to later invoices."""
        if amount.amount <= 0:
            raise DomainError("a credit note is for a positive amount", amount=str(amount))
        if invoice_id is not None and invoice_id not in self.invoices:
            raise NotFound("no such invoice on this account", invoice_id=str(invoice_id))
        credit_note_id = uuid.uuid4()
        self._credit_note_issued(
            license_id=self.license_id,
            credit_note_id=credit_note_id,
            invoice_id=str(invoice_id or ""),
            kind=kind.value,
            amount=_money(amount.amount, amount.currency),
            reference=reference,
            effective_date=issued_on,
        )
        credit = self.credits[credit_note_id]
        if invoice_id is not None:
            self._use_credit(credit, self.invoices[invoice_id], issued_on)
            freed = self._refund_paid(credit, self.invoices[invoice_id], issued_on)
        else:
            freed = []
        for invoice in self.open_invoices(amount.currency):
            self._use_credit(credit, invoice, issued_on)
        for payment in freed:
            for invoice in self.open_invoices(payment.currency):
                self._apply_cash(payment, invoice)
        return credit_note_id

    def cash_applied(self, payment_id: uuid.UUID, invoice_id: uuid.UUID) -> int:
        """What a payment pays of an invoice now (its refunds taken off)."""
        return sum(
            s.amount for s in self.settlements if s.cash and s.source_id == payment_id and s.invoice_id == invoice_id
        )

    def _refund_paid(self, credit: Credit, invoice: Invoice, day: date) -> list[Payment]:
        """Take back revenue the invoice was paid, up to the credit left, newest payment first."""
        freed: list[Payment] = []
        paid_by = dict.fromkeys(
            s.source_id for s in reversed(self.settlements) if s.cash and s.invoice_id == invoice.invoice_id
        )
        for payment_id in paid_by:
            part = min(credit.unused, self.cash_applied(payment_id, invoice.invoice_id))
            if part <= 0:
                continue
            payment = self.payments[payment_id]
            self._revenue_refunded(
                license_id=self.license_id,
                asset_ids=list(self.asset_ids),
                kind=invoice.kind.value,
                amount=_money(part, invoice.currency),
                effective_date=day,
                payer_reference=payment.payer_reference,
                payment_id=payment_id,
                invoice_id=invoice.invoice_id,
                credit_note_id=credit.credit_note_id,
                asset_splits=_asset_parts(part, invoice),
            )
            freed.append(payment)
        return freed

    def receive_payment(
        self,
        amount: Money,
        received_on: date,
        payer_reference: str,
        invoice_ids: Sequence[uuid.UUID] = (),
        payment_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        if amount.amount <= 0:
            raise DomainError("a payment is a positive amount", amount=str(amount))
        unknown = [str(i) for i in invoice_ids if i not in self.invoices]
        if unknown:
            raise NotFound("the payment names invoices not on this account", invoice_ids=unknown)
        payment_id = payment_id or uuid.uuid4()
        if payment_id in self.payments:
            raise Conflict("this payment is already recorded", payment_id=str(payment_id))
        self._payment_received(
            license_id=self.license_id,
            payment_id=payment_id,
            amount=_money(amount.amount, amount.currency),
            payer_reference=payer_reference,
            effective_date=received_on,
        )
        named = [self.invoices[i] for i in invoice_ids if self.invoices[i].currency == amount.currency]
        for invoice in [*named, *self.open_invoices(amount.currency)]:
            self._apply_cash(self.payments[payment_id], invoice)
        return payment_id

    def receive_receipt(
        self,
        amount: Money,
        received_on: date,
        payer_reference: str,
        uninvoiced_kind: RevenueKind | None,
        payment_days: int,
        invoice_ids: Sequence[uuid.UUID] = (),
        asset_split_bps: Mapping[str, int] | None = None,
    ) -> tuple[uuid.UUID, uuid.UUID | None]:
        """Money received in one step: a payment matched to invoices as `receive_payment` does and,
        when `uninvoiced_kind` is given, what no invoice awaited is invoiced as that kind (issued
        the day it was received, reference `receipt:<payment>`) and paid by it at once, so all of
        it is revenue. Returns the payment and the invoice raised (None when none was needed)."""
        payment_id = self.receive_payment(amount, received_on, payer_reference, invoice_ids)
        payment = self.payments[payment_id]
        if uninvoiced_kind is None or payment.unapplied == 0:
            return payment_id, None
        left = Money(payment.unapplied, payment.currency)
        invoice_id = self.issue_invoice(
            uninvoiced_kind, left, received_on, payment_days, f"receipt:{payment_id}", asset_split_bps, settle=False
        )
        self._apply_cash(payment, self.invoices[invoice_id])
        return payment_id, invoice_id

    def applied_from(self, payment_id: uuid.UUID) -> list[Settlement]:
        """The parts of a payment applied to invoices, in the order they were applied."""
        return [s for s in self.settlements if s.cash and s.source_id == payment_id]

    def unapplied_payments(self, as_of: date) -> list[tuple[Payment, int]]:
        """Each payment received by `as_of` with cash no invoice had taken by then, and how much."""
        applied: dict[uuid.UUID, int] = {}
        for settlement in self._settled_by(as_of):
            if settlement.cash:
                applied[settlement.source_id] = applied.get(settlement.source_id, 0) + settlement.amount
        received = [p for p in self.payments.values() if p.received_on <= as_of]
        left = [(p, p.amount - applied.get(p.payment_id, 0)) for p in received]
        return [(p, amount) for p, amount in left if amount > 0]

    def _settle_from_credit(self, invoice: Invoice, day: date) -> None:
        for credit in list(self.credits.values()):
            if credit.currency == invoice.currency:
                self._use_credit(credit, invoice, day)

    def _settle_from_cash(self, invoice: Invoice) -> None:
        payments = sorted(self.payments.values(), key=lambda p: p.received_on)
        for payment in payments:
            if payment.currency == invoice.currency:
                self._apply_cash(payment, invoice)

    def _use_credit(self, credit: Credit, invoice: Invoice, day: date) -> None:
        part = min(credit.unused, invoice.open_amount)
        if part > 0:
            self._credit_applied(
                license_id=self.license_id,
                credit_note_id=credit.credit_note_id,
                invoice_id=invoice.invoice_id,
                amount=_money(part, invoice.currency),
                effective_date=day,
            )

    def _apply_cash(self, payment: Payment, invoice: Invoice) -> None:
        part = min(payment.unapplied, invoice.open_amount)
        if part > 0:
            self._revenue_received(
                license_id=self.license_id,
                asset_ids=list(self.asset_ids),
                kind=invoice.kind.value,
                amount=_money(part, invoice.currency),
                effective_date=payment.available_on,
                payer_reference=payment.payer_reference,
                payment_id=payment.payment_id,
                invoice_id=invoice.invoice_id,
                asset_splits=_asset_parts(part, invoice),
            )

    # -- events -----------------------------------------------------------------

    @event(InvoiceIssued)
    def _invoice_issued(
        self,
        license_id: uuid.UUID,
        invoice_id: uuid.UUID,
        kind: str,
        amount: dict[str, Any],
        due_date: date,
        reference: str,
        asset_ids: list[uuid.UUID],
        asset_split: list[dict[str, Any]],
        effective_date: date,
    ) -> None:
        self.invoices[invoice_id] = Invoice(
            invoice_id, RevenueKind(kind), amount["amount"], amount["currency"], effective_date, due_date,
            reference, len(self.invoices), {s["asset_id"]: s["share_bps"] for s in asset_split},
        )  # fmt: skip
        self.references.add(reference)

    @event(CreditNoteIssued)
    def _credit_note_issued(
        self,
        license_id: uuid.UUID,
        credit_note_id: uuid.UUID,
        invoice_id: str,
        kind: str,
        amount: dict[str, Any],
        reference: str,
        effective_date: date,
    ) -> None:
        self.credits[credit_note_id] = Credit(
            credit_note_id, amount["amount"], amount["currency"], effective_date, reference
        )
        self.references.add(reference)

    @event(PaymentReceived)
    def _payment_received(
        self,
        license_id: uuid.UUID,
        payment_id: uuid.UUID,
        amount: dict[str, Any],
        payer_reference: str,
        effective_date: date,
    ) -> None:
        self.payments[payment_id] = Payment(
            payment_id, amount["amount"], amount["currency"], effective_date, payer_reference
        )

    @event(RevenueReceived)
    def _revenue_received(
        self,
        license_id: uuid.UUID,
        asset_ids: list[uuid.UUID],
        kind: str,
        amount: dict[str, Any],
        effective_date: date,
        payer_reference: str,
        payment_id: uuid.UUID,
        invoice_id: uuid.UUID,
        asset_splits: list[dict[str, Any]],
    ) -> None:
        payment, invoice = self.payments[payment_id], self.invoices[invoice_id]
        payment.applied += amount["amount"]
        invoice.paid += amount["amount"]
        on = max(effective_date, invoice.issued_on)
        self.settlements.append(Settlement(invoice_id, payment_id, True, amount["amount"], on))

    @event(RevenueRefunded)
    def _revenue_refunded(
        self,
        license_id: uuid.UUID,
        asset_ids: list[uuid.UUID],
        kind: str,
        amount: dict[str, Any],
        effective_date: date,
        payer_reference: str,
        payment_id: uuid.UUID,
        invoice_id: uuid.UUID,
        credit_note_id: uuid.UUID,
        asset_splits: list[dict[str, Any]],
    ) -> None:
        payment, invoice, credit = self.payments[payment_id], self.invoices[invoice_id], self.credits[credit_note_id]
        part = amount["amount"]
        payment.applied -= part
        payment.refunded_on = effective_date
        invoice.paid -= part
        invoice.credited += part
        credit.used += part
        self.settlements.append(Settlement(invoice_id, payment_id, True, -part, effective_date))
        self.settlements.append(Settlement(invoice_id, credit_note_id, False, part, effective_date))

    @event(CreditApplied)
    def _credit_applied(
        self,
        license_id: uuid.UUID,
        credit_note_id: uuid.UUID,
        invoice_id: uuid.UUID,
        amount: dict[str, Any],
        effective_date: date,
    ) -> None:
        credit, invoice = self.credits[credit_note_id], self.invoices[invoice_id]
        credit.used += amount["amount"]
        invoice.credited += amount["amount"]
        on = max(effective_date, credit.issued_on, invoice.issued_on)
        self.settlements.append(Settlement(invoice_id, credit_note_id, False, amount["amount"], on))


def _asset_parts(amount: int, invoice: Invoice) -> list[dict[str, Any]]:
    """Each asset's part of an amount of the invoice, where its terms split revenue across assets."""
    return [
        {"asset_id": s["asset_id"], "amount": _money(s["amount"], invoice.currency)}
        for s in split_across_assets(amount, invoice.asset_split)
    ]


def _money(amount: int, currency: str) -> dict[str, Any]:
    try:
        check_currency(currency)
    except CurrencyError as exc:
        raise DomainError(str(exc)) from None
    return {"amount": amount, "currency": currency}


def _sum_by_currency(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for currency, amount in pairs:
        totals[currency] = totals.get(currency, 0) + amount
    return {currency: total for currency, total in totals.items() if total}
