"""The commercialization gRPC service: licenses, accounts and receivables, as the caller may read them.

The use cases authorize exactly as for the HTTP routes: members read what concerns
assets they own; finance, auditors and administrators read everything.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import date
from typing import Any, Protocol

import grpc
from google.protobuf import json_format

from commercialization.application import CommercializationApplication
from commercialization.application.billing import ReceivablesReport
from commercialization.domain.account import AGEING_BUCKETS, Invoice, LicenseAccount, Payment, Receivable
from commercialization.domain.license import License
from ipshare.envelope import jsonable
from ipshare.eventstore import CommandContext
from ipshare.grpc_runtime import parse_date, parse_uuid, run_use_case
from ipshare.runtime import Runtime
from ipshare.settings import AuthSettings
from ipshare.typed_fields import filled
from ipshare_contracts.commercialization.v1 import events_pb2, service_pb2_grpc
from ipshare_contracts.commercialization.v1 import service_pb2 as pb
from ipshare_contracts.money.v1.money_pb2 import Money
from ipshare_kernel.clock import SYSTEM_CLOCK, Clock

Context = grpc.aio.ServicerContext[Any, Any]


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _amounts(by_currency: Mapping[str, int]) -> list[Money]:
    return [Money(amount=amount, currency=currency) for currency, amount in sorted(by_currency.items())]


def license_message(license: License) -> pb.License:
    terms = json_format.ParseDict(jsonable(license.terms.as_event_dict()), events_pb2.RoyaltyTerms())
    return filled(pb.License(
        license_id=str(license.id), licensee=license.licensee, licensee_kind=license.licensee_kind.value,
        spin_off_id=license.spin_off_id, asset_ids=[str(a) for a in license.asset_ids],
        license_type=license.license_type.value, field_of_use=license.field_of_use, fields=list(license.fields),
        territory=sorted(license.territory), start_date=_day(license.start_date), end_date=_day(license.end_date),
        sublicensing_allowed=license.sublicensing_allowed, status=license.status.value,
        granted_by=str(license.granted_by), required_consents=[str(m) for m in license.required_consents],
        consents=sorted(str(m) for m in license.consents), granted_on=_day(license.granted_on),
        ended_on=_day(license.ended_on), terms=terms, version=license.version,
    ))  # fmt: skip


def _invoice(invoice: Invoice) -> pb.Invoice:
    return pb.Invoice(
        invoice_id=str(invoice.invoice_id), kind=invoice.kind.value,
        amount=Money(amount=invoice.amount, currency=invoice.currency), issued_on=_day(invoice.issued_on),
        due_date=_day(invoice.due_date), reference=invoice.reference, paid=invoice.paid,
        credited=invoice.credited, open_amount=invoice.open_amount,
    )  # fmt: skip


def _payment(payment: Payment) -> pb.Payment:
    return pb.Payment(
        payment_id=str(payment.payment_id), amount=Money(amount=payment.amount, currency=payment.currency),
        received_on=_day(payment.received_on), payer_reference=payment.payer_reference,
        applied=payment.applied, unapplied=payment.unapplied,
    )  # fmt: skip


def account_message(account: LicenseAccount) -> pb.Account:
    return filled(
        pb.Account(
            deal_id=str(account.license_id),
            asset_ids=[str(a) for a in account.asset_ids],
            invoices=[_invoice(i) for i in sorted(account.invoices.values(), key=lambda i: i.sequence)],
            payments=[_payment(p) for p in sorted(account.payments.values(), key=lambda p: p.received_on)],
            open_balance=_amounts(account.open_balance()),
            unapplied_cash=_amounts(account.unapplied_cash()),
            unused_credit=_amounts(account.unused_credit()),
        )
    )


def _receivable(line: Receivable) -> pb.Receivable:
    return pb.Receivable(
        deal_id=str(line.deal_id), invoice_id=str(line.invoice_id), kind=line.kind.value, reference=line.reference,
        open_amount=Money(amount=line.open_amount.amount, currency=line.open_amount.currency),
        issued_on=_day(line.issued_on), due_date=_day(line.due_date), bucket=line.bucket,
    )  # fmt: skip


def _ageing(currency: str, by_bucket: Mapping[str, int]) -> pb.AgeingTotals:
    current, days_30, days_60, days_90_plus = (by_bucket.get(bucket, 0) for bucket in AGEING_BUCKETS)
    return pb.AgeingTotals(
        currency=currency, current=current, days_30=days_30, days_60=days_60, days_90_plus=days_90_plus
    )


def receivables_message(report: ReceivablesReport) -> pb.ReceivablesReport:
    return filled(
        pb.ReceivablesReport(
            as_of=_day(report.as_of),
            lines=[_receivable(line) for line in report.lines],
            totals=[_ageing(currency, buckets) for currency, buckets in sorted(report.totals.items())],
            unapplied_cash=_amounts(report.unapplied_cash),
        )
    )


class LicensesAndAccounts(Protocol):
    """What the servicer reads: licenses (`Licensing`) and accounts (`Billing`)."""

    def get_license(self, ctx: CommandContext, license_id: uuid.UUID) -> License: ...

    def licenses_on_asset(self, ctx: CommandContext, asset_id: uuid.UUID) -> list[License]: ...

    def get_account(self, ctx: CommandContext, license_id: uuid.UUID) -> LicenseAccount: ...

    def receivables(
        self, ctx: CommandContext, as_of: date | None = None, license_ids: Iterable[uuid.UUID] | None = None
    ) -> ReceivablesReport: ...


class CommercializationServicer(service_pb2_grpc.CommercializationServicer):
    def __init__(
        self, application: Callable[[], LicensesAndAccounts], auth: AuthSettings, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        """`clock`: the day of a receivables report that names none."""
        self._application = application
        self._auth = auth
        self._clock = clock

    async def GetLicense(self, request: pb.GetLicenseRequest, context: Context) -> pb.License:
        license_id = await parse_uuid(context, request.license_id)
        license = await run_use_case(context, self._auth, lambda ctx: self._application().get_license(ctx, license_id))
        return license_message(license)

    async def ListLicensesOnAsset(
        self, request: pb.ListLicensesOnAssetRequest, context: Context
    ) -> AsyncIterator[pb.License]:
        asset_id = await parse_uuid(context, request.asset_id)
        licenses = await run_use_case(
            context, self._auth, lambda ctx: self._application().licenses_on_asset(ctx, asset_id)
        )
        for license in licenses:
            yield license_message(license)

    async def GetAccount(self, request: pb.GetAccountRequest, context: Context) -> pb.Account:
        deal_id = await parse_uuid(context, request.deal_id)
        account = await run_use_case(context, self._auth, lambda ctx: self._application().get_account(ctx, deal_id))
        return account_message(account)

    async def Receivables(self, request: pb.ReceivablesRequest, context: Context) -> pb.ReceivablesReport:
        as_of = await parse_date(context, request, "as_of_day", self._clock.today())
        deal_ids = [await parse_uuid(context, d) for d in request.deal_ids] or None
        report = await run_use_case(
            context, self._auth, lambda ctx: self._application().receivables(ctx, as_of, deal_ids)
        )
        return receivables_message(report)


def add_servicer(runtime: Runtime[CommercializationApplication, Any], server: grpc.aio.Server) -> list[str]:
    servicer = CommercializationServicer(lambda: runtime.app, runtime.settings, runtime.app.clock)
    service_pb2_grpc.add_CommercializationServicer_to_server(servicer, server)
    return [pb.DESCRIPTOR.services_by_name["Commercialization"].full_name]
