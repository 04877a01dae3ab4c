"""The gRPC servicer through a real in-process server, over the in-memory application."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date

import grpc
import pytest

from commercialization.application import CommercializationApplication
from commercialization.domain.terms import RoyaltyTerms
from commercialization.entrypoints.grpc import CommercializationServicer
from ipshare.auth import Principal, Role, issue_token
from ipshare.eventstore import CommandContext
from ipshare.grpc_runtime import create_server
from ipshare.settings import AuthSettings
from ipshare_contracts.calendar.v1.date_pb2 import Date
from ipshare_contracts.commercialization.v1 import service_pb2 as pb
from ipshare_contracts.commercialization.v1 import service_pb2_grpc
from ipshare_contracts.commercialization.v1.events_pb2 import REVENUE_KIND_UPFRONT
from ipshare_devtools.testing.typed_twins import twin_disagreements
from ipshare_kernel.clock import FixedClock

AUTH = AuthSettings(jwt_secret="commercialization-grpc-test-secret-0123456789")
OWNER, STRANGER = uuid.uuid4(), uuid.uuid4()
D = date(2025, 1, 1)


class Owners:
    def __init__(self) -> None:
        self.by_asset: dict[uuid.UUID, dict[uuid.UUID, int]] = {}

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return self.by_asset.get(asset_id, {})


@dataclass
class Deal:
    asset_id: uuid.UUID
    license_id: uuid.UUID


@pytest.fixture
def app() -> Iterator[CommercializationApplication]:
    application = CommercializationApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"}, Owners())
    yield application
    application.close()


@pytest.fixture
def deal(app: CommercializationApplication) -> Deal:
    """A license with an upfront fee due 2025-01-31 and a maintenance fee due 2025-03-31, part paid."""
    asset_id = uuid.uuid4()
    assert isinstance(app.ownership, Owners)
    app.ownership.by_asset[asset_id] = {OWNER: 10_000}
    owner = CommandContext(Principal(Role.MEMBER, str(OWNER), OWNER))
    finance = CommandContext(Principal(Role.FINANCE, "fiona"))
    terms = RoyaltyTerms(currency="CNY", upfront_fee=100_000, annual_maintenance_fee=30_000)
    license_id = app.grant_license(owner, "Acme", [asset_id], "exclusive", terms=terms, effective_date=D)
    app.invoice_maintenance_fee(finance, license_id, 1, date(2025, 3, 1))
    app.record_payment(finance, license_id, 60_000, "CNY", date(2025, 2, 10), "BANK-1")
    return Deal(asset_id, license_id)


@pytest.fixture
async def stub(app: CommercializationApplication) -> AsyncIterator[service_pb2_grpc.CommercializationAsyncStub]:
    server, _ = create_server(AUTH)
    service_pb2_grpc.add_CommercializationServicer_to_server(CommercializationServicer(lambda: app, AUTH), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield service_pb2_grpc.CommercializationStub(channel)
    await server.stop(None)


def as_(role: Role, member_id: uuid.UUID | None = None) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {issue_token(AUTH, role, member_id)}")]


async def test_an_owner_reads_its_license_with_terms(
    stub: service_pb2_grpc.CommercializationAsyncStub, deal: Deal
) -> None:
    license = await stub.GetLicense(
        pb.GetLicenseRequest(license_id=str(deal.license_id)), metadata=as_(Role.MEMBER, OWNER)
    )
    assert (license.licensee, license.license_type, license.status) == ("Acme", "exclusive", "active")
    assert (list(license.asset_ids), license.granted_on, license.end_date) == ([str(deal.asset_id)], "2025-01-01", "")
    assert (license.terms.currency, license.terms.upfront_fee.amount) == ("CNY", 100_000)


async def test_licenses_on_an_asset_stream_to_owners_and_finance(
    stub: service_pb2_grpc.CommercializationAsyncStub, deal: Deal
) -> None:
    request = pb.ListLicensesOnAssetRequest(asset_id=str(deal.asset_id))
    for caller in (as_(Role.MEMBER, OWNER), as_(Role.FINANCE)):
        assert [x.license_id async for x in stub.ListLicensesOnAsset(request, metadata=caller)] == [
            str(deal.license_id)
        ]


async def test_an_account_lists_invoices_payments_and_balances(
    stub: service_pb2_grpc.CommercializationAsyncStub, deal: Deal
) -> None:
    account = await stub.GetAccount(pb.GetAccountRequest(deal_id=str(deal.license_id)), metadata=as_(Role.AUDITOR))
    assert [(i.kind, i.amount.amount, i.paid, i.open_amount) for i in account.invoices] == [
        ("upfront", 100_000, 60_000, 40_000),
        ("maintenance", 30_000, 0, 30_000),
    ]
    assert [(p.payer_reference, p.applied, p.unapplied) for p in account.payments] == [("BANK-1", 60_000, 0)]
    assert [(m.currency, m.amount) for m in account.open_balance] == [("CNY", 70_000)]


async def test_receivables_are_aged_by_days_past_due(
    stub: service_pb2_grpc.CommercializationAsyncStub, deal: Deal
) -> None:
    report = await stub.Receivables(pb.ReceivablesRequest(as_of="2025-05-15"), metadata=as_(Role.FINANCE))
    assert [(r.kind, r.open_amount.amount, r.bucket) for r in report.lines] == [
        ("upfront", 40_000, "90+"),
        ("maintenance", 30_000, "30"),
    ]
    [cny] = report.totals
    assert (cny.currency, cny.current, cny.days_30, cny.days_60, cny.days_90_plus) == ("CNY", 0, 30_000, 0, 40_000)


async def test_a_typed_day_asks_what_its_text_asked_and_every_reply_carries_both_forms(
    stub: service_pb2_grpc.CommercializationAsyncStub, deal: Deal
) -> None:
    as_text = await stub.Receivables(pb.ReceivablesRequest(as_of="2025-05-15"), metadata=as_(Role.FINANCE))
    typed = await stub.Receivables(
        pb.ReceivablesRequest(as_of_day=Date(year=2025, month=5, day=15)), metadata=as_(Role.FINANCE)
    )
    assert typed == as_text
    assert (typed.as_of_day, typed.lines[0].revenue_kind) == (Date(year=2025, month=5, day=15), REVENUE_KIND_UPFRONT)
    license = await stub.GetLicense(pb.GetLicenseRequest(license_id=str(deal.license_id)), metadata=as_(Role.FINANCE))
    account = await stub.GetAccount(pb.GetAccountRequest(deal_id=str(deal.license_id)), metadata=as_(Role.FINANCE))
    assert twin_disagreements(typed) + twin_disagreements(license) + twin_disagreements(account) == []
    assert license.license_status == pb.LICENSE_STATUS_ACTIVE


async def test_receivables_of_named_deals_only(stub: service_pb2_grpc.CommercializationAsyncStub, deal: Deal) -> None:
    request = pb.ReceivablesRequest(as_of="2025-05-15", deal_ids=[str(deal.license_id)])
    assert len((await stub.Receivables(request, metadata=as_(Role.AUDITOR))).lines) == 2


async def test_a_member_reads_nothing_on_assets_it_does_not_own(
    stub: service_pb2_grpc.CommercializationAsyncStub, deal: Deal
) -> None:
    stranger = as_(Role.MEMBER, STRANGER)
    calls: list[Awaitable[object]] = [
        stub.GetLicense(pb.GetLicenseRequest(license_id=str(deal.license_id)), metadata=stranger),
        stub.GetAccount(pb.GetAccountRequest(deal_id=str(deal.license_id)), metadata=stranger),
        stub.Receivables(pb.ReceivablesRequest(), metadata=as_(Role.MEMBER, OWNER)),  # finance reads receivables
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await call
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_stream_is_denied_to_a_member_not_owning_the_asset(
    stub: service_pb2_grpc.CommercializationAsyncStub, deal: Deal
) -> None:
    request = pb.ListLicensesOnAssetRequest(asset_id=str(deal.asset_id))
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        [x async for x in stub.ListLicensesOnAsset(request, metadata=as_(Role.MEMBER, STRANGER))]
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    "metadata",
    [
        [],
        [("authorization", "Bearer not-a-token")],
        [("authorization", f"Bearer {issue_token(AuthSettings(), Role.FINANCE)}")],  # signed with another key
    ],
)
async def test_calls_without_a_valid_token_are_unauthenticated(
    stub: service_pb2_grpc.CommercializationAsyncStub, deal: Deal, metadata: list[tuple[str, str]]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await stub.GetLicense(pb.GetLicenseRequest(license_id=str(deal.license_id)), metadata=metadata)
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_bad_ids_and_dates_are_invalid_arguments(stub: service_pb2_grpc.CommercializationAsyncStub) -> None:
    finance = as_(Role.FINANCE)
    calls: list[Awaitable[object]] = [
        stub.GetLicense(pb.GetLicenseRequest(license_id="nope"), metadata=finance),
        stub.GetAccount(pb.GetAccountRequest(deal_id=""), metadata=finance),
        stub.Receivables(pb.ReceivablesRequest(as_of="15/05/2025"), metadata=finance),
        stub.Receivables(pb.ReceivablesRequest(as_of_day=Date(year=2025, month=2, day=30)), metadata=finance),
        stub.Receivables(pb.ReceivablesRequest(deal_ids=["x"]), metadata=finance),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await call
        assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        [x async for x in stub.ListLicensesOnAsset(pb.ListLicensesOnAssetRequest(asset_id="1"), metadata=finance)]
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_unknown_licenses_and_accounts_are_not_found(stub: service_pb2_grpc.CommercializationAsyncStub) -> None:
    finance = as_(Role.FINANCE)
    for call in (
        stub.GetLicense(pb.GetLicenseRequest(license_id=str(uuid.uuid4())), metadata=finance),
        stub.GetAccount(pb.GetAccountRequest(deal_id=str(uuid.uuid4())), metadata=finance),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await call
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_receivables_without_a_day_are_aged_on_the_servicers_clock(
    app: CommercializationApplication, deal: Deal
) -> None:
    server, _ = create_server(AUTH)
    servicer = CommercializationServicer(lambda: app, AUTH, FixedClock.on(date(2025, 5, 15)))
    service_pb2_grpc.add_CommercializationServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        report = await service_pb2_grpc.CommercializationStub(channel).Receivables(
            pb.ReceivablesRequest(), metadata=as_(Role.FINANCE)
        )
    await server.stop(None)
    assert report.as_of == "2025-05-15"
    assert [(r.kind, r.bucket) for r in report.lines] == [("upfront", "90+"), ("maintenance", "30")]
