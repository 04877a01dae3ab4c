"""The payout gRPC service over a real server, on the real PostgreSQL: what each caller may read."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import grpc
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.auth import Role, issue_token
from ipshare.grpc_runtime import create_server
from ipshare.settings import AuthSettings
from ipshare_contracts.revenueshare.v1 import events_pb2 as events
from ipshare_contracts.revenueshare.v1 import service_pb2 as pb
from ipshare_contracts.revenueshare.v1 import service_pb2_grpc
from ipshare_devtools.embedded import free_port
from ipshare_devtools.testing.typed_twins import twin_disagreements
from revenue_share.application import Payouts, RevenueShareApplication
from revenue_share.entrypoints.grpc import PayoutsServicer

from .conftest import ALICE, FINANCE, INSTITUTE, RECEIPT, UNIVERSITY, learn, slice_events

pytestmark = pytest.mark.integration
AUTH = AuthSettings(jwt_secret="payout-service-test-secret-long-enough")
Metadata = tuple[tuple[str, str], ...]


def as_(role: Role, member_id: str | None = None) -> Metadata:
    token = issue_token(AUTH, role, uuid.UUID(member_id) if member_id else None)
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
async def stub(
    engine: AsyncEngine, application: RevenueShareApplication
) -> AsyncIterator[service_pb2_grpc.PayoutsStub]:
    await learn(engine, slice_events())
    application.open_period(FINANCE, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
    application.open_period(FINANCE, "2027-Q1", date(2027, 1, 1), date(2027, 3, 31))
    payouts = Payouts(application, engine)
    await payouts.close(FINANCE, "2026-Q4")
    server, _ = create_server(AUTH)
    service_pb2_grpc.add_PayoutsServicer_to_server(PayoutsServicer(payouts, AUTH), server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield service_pb2_grpc.PayoutsStub(channel)
    await server.stop(None)


async def test_finance_lists_issued_statements_that_sum_to_the_receipt(stub: service_pb2_grpc.PayoutsStub) -> None:
    statements = [
        s async for s in stub.ListStatements(pb.StatementsRequest(period_id="2026-Q4"), metadata=as_(Role.FINANCE))
    ]

    assert sum(b.entitled for s in statements for b in s.balances) == RECEIPT
    assert all(s.closed_at for s in statements)
    assert all(s.close_time.ToDatetime(tzinfo=UTC) == datetime.fromisoformat(s.closed_at) for s in statements)
    as_of_now = pb.StatementsRequest(period_id="2026-Q4", as_of=datetime.now(UTC).isoformat())
    assert [s async for s in stub.ListStatements(as_of_now, metadata=as_(Role.AUDITOR))] == statements
    typed_as_of = pb.StatementsRequest(period_id="2026-Q4")  # a client that sends the Timestamp only
    typed_as_of.as_of_time.FromDatetime(datetime.now(UTC))
    assert [s async for s in stub.ListStatements(typed_as_of, metadata=as_(Role.AUDITOR))] == statements
    before_any_fact = pb.StatementsRequest(period_id="2026-Q4")
    before_any_fact.as_of_time.FromDatetime(datetime(2000, 1, 1, tzinfo=UTC))
    assert await code_of(stub.ListStatements(before_any_fact, metadata=as_(Role.AUDITOR))) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )


async def test_a_member_reads_only_its_own_balances_and_no_reconciliation(stub: service_pb2_grpc.PayoutsStub) -> None:
    balances = await stub.GetBalances(pb.BalancesRequest(period_id="2026-Q4"), metadata=as_(Role.MEMBER, UNIVERSITY))

    assert not balances.provisional
    assert {(b.payee_kind, b.payee_id) for b in balances.balances} == {("member", UNIVERSITY)}
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await stub.GetReconciliation(
            pb.ReconciliationRequest(period_id="2026-Q4"), metadata=as_(Role.MEMBER, UNIVERSITY)
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_reconciliation_leaves_no_residual(stub: service_pb2_grpc.PayoutsStub) -> None:
    found = await stub.GetReconciliation(pb.ReconciliationRequest(period_id="2026-Q4"), metadata=as_(Role.AUDITOR))

    [cny] = found.currencies
    assert (cny.currency, cny.receipts, cny.payouts, cny.residual) == ("CNY", RECEIPT, RECEIPT, 0)


async def test_explain_names_the_receipt_and_the_facts_behind_each_line(stub: service_pb2_grpc.PayoutsStub) -> None:
    request = pb.ExplainRequest(period_id="2026-Q4", payee_kind="researcher", payee_id=ALICE)
    explanation = await stub.Explain(request, metadata=as_(Role.AUDITOR))

    [line] = explanation.lines
    assert line.line.step == "researchers_reward"
    [group] = line.sources
    assert len(group.receipt_ids) == 1
    assert len(group.fact_ids) >= 2  # the ownership and the inventors in force on the receipt date
    assert set(line.line.source_event_ids) == {*group.receipt_ids, *group.fact_ids}


async def test_a_typed_payee_asks_what_its_text_asked_and_every_reply_carries_both_forms(
    stub: service_pb2_grpc.PayoutsStub,
) -> None:
    as_text = pb.ExplainRequest(period_id="2026-Q4", payee_kind="researcher", payee_id=ALICE)
    typed = pb.ExplainRequest(period_id="2026-Q4", payee_type=events.PAYEE_KIND_RESEARCHER, payee_id=ALICE)
    explained = await stub.Explain(typed, metadata=as_(Role.AUDITOR))
    assert explained == await stub.Explain(as_text, metadata=as_(Role.AUDITOR))
    assert explained.lines[0].line.waterfall_step == events.WATERFALL_STEP_RESEARCHERS_REWARD
    balances = await stub.GetBalances(pb.BalancesRequest(period_id="2026-Q4"), metadata=as_(Role.FINANCE))
    statements = [
        s async for s in stub.ListStatements(pb.StatementsRequest(period_id="2026-Q4"), metadata=as_(Role.FINANCE))
    ]
    replies = [explained, balances, *statements]
    assert [d for reply in replies for d in twin_disagreements(reply)] == []


async def test_the_open_period_is_provisional_and_bad_requests_are_named(stub: service_pb2_grpc.PayoutsStub) -> None:
    balances = await stub.GetBalances(pb.BalancesRequest(period_id="2027-Q1"), metadata=as_(Role.FINANCE))
    assert balances.provisional

    auditor = as_(Role.AUDITOR)
    bad_payee = pb.ExplainRequest(period_id="2026-Q4", payee_kind="donor", payee_id=INSTITUTE)
    bad_time = pb.StatementsRequest(period_id="2026-Q4", as_of="yesterday")

    assert await code_of(stub.Explain(bad_payee, metadata=auditor)) == grpc.StatusCode.INVALID_ARGUMENT
    assert await code_of(stub.ListStatements(bad_time, metadata=auditor)) == grpc.StatusCode.INVALID_ARGUMENT
    assert await code_of(stub.GetBalances(pb.BalancesRequest(period_id="1999-Q1"), metadata=auditor)) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert await code_of(stub.GetBalances(pb.BalancesRequest(period_id="2026-Q4"))) == grpc.StatusCode.UNAUTHENTICATED


async def code_of(call: Any) -> grpc.StatusCode:
    """The status a unary or streaming call fails with."""
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await (_drain(call) if hasattr(call, "__aiter__") else call)
    return failed.value.code()


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass
