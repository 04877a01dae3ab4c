"""The payout gRPC service: statements, balances, reconciliation and explanations, as the caller may read them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import grpc

from ipshare.grpc_runtime import run_async_use_case
from ipshare.runtime import Runtime
from ipshare.settings import AuthSettings
from ipshare.typed_fields import filled, instant_of, text_of
from ipshare_contracts.revenueshare.v1 import events_pb2 as events
from ipshare_contracts.revenueshare.v1 import service_pb2 as pb
from ipshare_contracts.revenueshare.v1 import service_pb2_grpc
from revenue_share.application import Payouts, RevenueShareApplication
from revenue_share.domain.facts import PayeeKind
from revenue_share.domain.statements import Balance, Reconciliation, Statement, StatementLine
from revenue_share.entrypoints.wiring import payouts_of

Context = grpc.aio.ServicerContext[Any, Any]


def line_message(line: StatementLine) -> events.StatementLine:
    return events.StatementLine(
        currency=line.currency, step=line.step.value, amount=line.amount, policy_version=line.policy_version,
        adjustment=line.adjustment, reason=line.reason, sources_digest=line.sources_digest,
    )  # fmt: skip


def explained_line_message(line: StatementLine) -> events.StatementLine:
    message = line_message(line)
    message.source_event_ids.extend(line.source_event_ids)
    return message


def balance_message(b: Balance) -> events.Balance:
    return events.Balance(currency=b.currency, carried_in=b.carried_in, entitled=b.entitled, paid=b.paid,
                          carried_out=b.carried_out)  # fmt: skip


def statement_message(s: Statement) -> events.StatementIssued:
    return filled(events.StatementIssued(
        period_id=s.period_id, payee_kind=s.payee.kind.value, payee_id=s.payee.id, payee_account=s.payee.account,
        closed_at=s.closed_at.isoformat() if s.closed_at else "",
        lines=[line_message(line) for line in s.lines], balances=[balance_message(b) for b in s.balances],
    ))  # fmt: skip


def reconciliation_message(period_id: str, rows: tuple[Reconciliation, ...]) -> pb.Reconciliation:
    return pb.Reconciliation(
        period_id=period_id,
        currencies=[pb.CurrencyReconciliation(
            currency=r.currency, receipts=r.receipts, carried_in=r.carried_in, operating_fees=r.operating_fees,
            cost_recoveries=r.cost_recoveries, payouts=r.payouts, carried_forward=r.carried_forward,
            residual=r.residual, unallocated=r.unallocated) for r in rows],
    )  # fmt: skip


def explained(statement: Statement) -> list[pb.ExplainedLine]:
    return [
        pb.ExplainedLine(
            line=explained_line_message(line),
            payee_account=statement.payee.account,
            sources=[
                pb.SourceGroup(scope=g.scope, receipt_ids=g.receipt_ids, fact_ids=g.fact_ids) for g in line.sources
            ],
        )
        for line in statement.lines
    ]


class PayoutsServicer(service_pb2_grpc.PayoutsServicer):
    def __init__(self, payouts: Payouts, auth: AuthSettings) -> None:
        self._payouts = payouts
        self._auth = auth

    async def ListStatements(
        self, request: pb.StatementsRequest, context: Context
    ) -> AsyncIterator[events.StatementIssued]:
        as_of = await _as_of(context, request)
        payouts, period_id = self._payouts, request.period_id
        found = await run_async_use_case(
            context, self._auth,
            lambda ctx: payouts.statements(ctx, period_id) if as_of is None
            else payouts.statements_known_at(ctx, period_id, as_of),
        )  # fmt: skip
        for statement in found:
            yield statement_message(statement)

    async def GetBalances(self, request: pb.BalancesRequest, context: Context) -> pb.Balances:
        provisional, found = await self._current(context, request.period_id)
        return filled(pb.Balances(
            period_id=request.period_id, provisional=provisional,
            balances=[pb.PayeeBalance(payee_kind=s.payee.kind.value, payee_id=s.payee.id,
                                      payee_account=s.payee.account, balance=balance_message(b))
                      for s in found for b in s.balances],
        ))  # fmt: skip

    async def GetReconciliation(self, request: pb.ReconciliationRequest, context: Context) -> pb.Reconciliation:
        payouts, period_id = self._payouts, request.period_id
        rows = await run_async_use_case(context, self._auth, lambda ctx: payouts.reconcile(ctx, period_id))
        return reconciliation_message(period_id, rows)

    async def Explain(self, request: pb.ExplainRequest, context: Context) -> pb.Explanation:
        payee_kind = text_of(request, "payee_type")
        if payee_kind not in set(PayeeKind):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"payee_type is one of {', '.join(PayeeKind)}")
        payouts, r = self._payouts, request
        provisional, chosen = await run_async_use_case(
            context,
            self._auth,
            lambda ctx: payouts.explain(ctx, r.period_id, payee_kind, r.payee_id, r.payee_account),
        )
        return filled(pb.Explanation(
            period_id=request.period_id, payee_kind=payee_kind, payee_id=request.payee_id,
            provisional=provisional, lines=[line for s in chosen for line in explained(s)],
        ))  # fmt: skip

    async def _current(self, context: Context, period_id: str) -> tuple[bool, list[Statement]]:
        payouts = self._payouts
        return await run_async_use_case(context, self._auth, lambda ctx: payouts.current(ctx, period_id))


async def _as_of(context: Context, request: pb.StatementsRequest) -> datetime | None:
    try:
        return instant_of(request, "as_of_time")
    except ValueError:
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, f"{request.as_of!r} is not an ISO timestamp with an offset"
        )
        raise AssertionError("abort raises") from None


def add_servicer(runtime: Runtime[RevenueShareApplication, Any], server: grpc.aio.Server) -> list[str]:
    servicer = PayoutsServicer(payouts_of(runtime), runtime.settings)
    service_pb2_grpc.add_PayoutsServicer_to_server(servicer, server)
    return [pb.DESCRIPTOR.services_by_name["Payouts"].full_name]
